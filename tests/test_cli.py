"""The ``opjax`` command line, run in-process."""

import json

import pytest

from opjax.cli import main
from tests.conftest import REPO, tiny_darcy_overrides

RECIPE = str(REPO / "train" / "fno_darcy16.toml")


@pytest.fixture(scope="module")
def cli_run(neuralop_data, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    args = ["train", RECIPE, "--quiet"]
    for override in tiny_darcy_overrides(neuralop_data, run_dir, epochs=2):
        args += ["--set", override]
    assert main(args) == 0
    return run_dir


def test_train_writes_the_report(cli_run, capsys):
    report = cli_run / "report"
    results = json.loads((report / "metrics.json").read_text())
    assert set(results) == {"16", "32"} and results["32"]["resolution"] == [32, 32]
    assert (report / "samples_16.png").stat().st_size > 1000
    assert "| 16 | 16x16 | 8 |" in (report / "metrics.md").read_text()


def test_evaluate_on_a_named_file(cli_run, neuralop_data, capsys):
    code = main(["evaluate", str(cli_run), "--data", f"hi={neuralop_data / 'darcy_test_32.pt'}"])
    assert code == 0
    out = capsys.readouterr().out
    assert "| hi | 32x32 | 50 |" in out
    results = json.loads((cli_run / "report" / "metrics.json").read_text())
    assert 0 < results["hi"]["l2"] < 1 and 0 < results["hi"]["h1"] < 2
    assert (cli_run / "report" / "samples_hi.png").exists()


def test_errors_are_one_clear_line(cli_run, tmp_path, capsys):
    assert main(["train", RECIPE, "--set", "optimizer.lrr=1"]) == 2
    assert "did you mean 'optimizer.lr'" in capsys.readouterr().err
    assert main(["evaluate", str(cli_run), "--data", str(tmp_path / "none.pt")]) == 2
    assert "none.pt: no such file" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert main(["train", "--resume", str(cli_run), RECIPE]) == 2
    assert "give no recipe" in capsys.readouterr().err
