"""The ``opjax`` command line, run in-process."""

import json

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from opjax.cli import main
from tests.conftest import REPO, tiny_burgers_recipe, tiny_darcy_overrides

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


TINY_BURGERS = tiny_burgers_recipe(24, 8)


def test_generate_writes_every_split(tmp_path, capsys):
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(TINY_BURGERS)
    output = tmp_path / "out"
    assert main(["generate", str(recipe), "--quiet", "--set", f"output='{output}'"]) == 0
    printed = capsys.readouterr().out
    assert f"train: {output / 'train.h5'} (24 samples)" in printed
    # Beside the files, only their (empty) lock files.
    names = sorted(p.name for p in output.iterdir())
    assert names == [".test.h5.lock", ".train.h5.lock", "test.h5", "train.h5"]
    assert main(["generate", str(recipe), "--set", "parameters.viscocity=1"]) == 2
    assert "did you mean 'viscosity'" in capsys.readouterr().err


def test_the_builtin_recipes_resolve():
    from opjax.cli import DEFAULT_RECIPE
    from opjax.data.generation import load_dataset_recipe
    from opjax.training import load_recipe

    recipe = load_recipe(DEFAULT_RECIPE)
    dataset = load_dataset_recipe(recipe["data"]["generate"])
    assert dataset["problem"] == "burgers1d" and dataset["splits"]["train"]["n_samples"] == 512
    assert recipe["data"]["x_key"] == "u[0]" and recipe["name"] == "fno_burgers1d"


@pytest.mark.slow
def test_train_without_a_recipe_generates_data_and_reports(tmp_path, capsys):
    (tmp_path / "tiny.toml").write_text(TINY_BURGERS)
    overrides = [
        "data.generate='tiny.toml'",
        "train.epochs=2",
        "train.eval_every=1",
        "model.hparams={ n_modes = [8], hidden_channels = 8, n_layers = 2 }",
    ]
    assert main(["train", "--quiet", *[a for o in overrides for a in ("--set", o)]]) == 0
    printed = capsys.readouterr().out
    assert "| test | 64 | 8 |" in printed  # the test split's relative L2 and H1
    run = tmp_path / "runs" / "fno_burgers1d"
    assert (run / "report" / "samples_test.png").exists()
    config = tomllib.loads((run / "config.toml").read_text())
    assert config["data"]["format"] == "opjax_h5"
    assert config["data"]["train"] == str(tmp_path / "data" / "tiny" / "train.h5")


def test_convert_neuralop_then_evaluate_on_the_converted_model(tmp_path, capsys):
    import numpy as np

    import opjax

    checkpoints = REPO / "tests" / "fixtures" / "neuralop_checkpoints"
    out = tmp_path / "tfno"
    assert main(["convert", "neuralop", str(checkpoints / "tfno2d_cp"), str(out)]) == 0
    assert f"-> {out}" in capsys.readouterr().out
    expected = np.load(checkpoints / "outputs.npz")
    prediction = opjax.load(out).predict(expected["tfno2d_cp/x0"])
    np.testing.assert_allclose(prediction, expected["tfno2d_cp/y0"], rtol=1e-5, atol=1e-5)
    assert main(["convert", "neuralop", str(tmp_path / "missing"), str(tmp_path / "x")]) == 2
    assert "missing" in capsys.readouterr().err


def test_evaluate_warns_of_a_run_whose_error_grew(cli_run, tmp_path, capsys):
    import shutil

    assert json.loads((cli_run / "report" / "warnings.json").read_text()) == []
    run = tmp_path / "diverged"
    shutil.copytree(cli_run, run, ignore=shutil.ignore_patterns(".lock"))
    with open(run / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"epoch": 2, "test/16/l2": 1e4, "test/16/h1": 1e4}) + "\n")
    assert main(["evaluate", str(run)]) == 0
    (warning,) = json.loads((run / "report" / "warnings.json").read_text())
    assert warning.startswith("the run diverged: the final test/16/h1 is 1e+04")
    assert f"**Warning**: {warning}" in (run / "report" / "metrics.md").read_text()
