"""Benchmark suites: train, evaluate, tabulate; reuse finished runs; refuse stale ones."""

import json

import pytest

from opjax.cli import main
from opjax.recipe_tables import RecipeError
from opjax.workflows.benchmark import load_suite, run_suite
from tests.conftest import REPO, tiny_darcy_overrides


def write_suite(path, overrides, name="darcy"):
    sets = ", ".join(repr(o) for o in overrides)
    path.write_text(
        f'description = "tiny"\n[[runs]]\nname = "{name}"\n'
        f'recipe = "{REPO / "train" / "fno_darcy16.toml"}"\nset = [{sets}]\n'
    )
    return path


def test_a_suite_trains_evaluates_and_writes_its_table(tmp_path, neuralop_data, capsys):
    overrides = tiny_darcy_overrides(neuralop_data, tmp_path / "unused", epochs=1)
    overrides = [o for o in overrides if not o.startswith("run_dir")]
    (tmp_path / "suites").mkdir()
    suite = write_suite(tmp_path / "suites" / "tiny.toml", overrides)
    args = ["benchmark", str(suite), "--quiet", "--runs-dir", str(tmp_path / "runs")]
    assert main(args) == 0
    table = json.loads((tmp_path / "results" / "tiny.json").read_text())
    row = table["runs"]["darcy"]
    assert set(row["tests"]) == {"16", "32"} and row["epochs"] == 1
    markdown = (tmp_path / "results" / "tiny.md").read_text()
    assert f"| darcy | 16 | 16x16 | 8 | {row['tests']['16']['l2']:.4f} |" in markdown
    assert "| darcy | 32 |" in capsys.readouterr().out

    metrics = (tmp_path / "runs" / "tiny" / "darcy" / "metrics.jsonl").read_text()
    run_suite(suite, runs_dir=tmp_path / "runs")  # finished: reused, not retrained
    assert (tmp_path / "runs" / "tiny" / "darcy" / "metrics.jsonl").read_text() == metrics

    write_suite(suite, [*overrides, "optimizer.lr=0.5"])
    with pytest.raises(RecipeError, match="holds a run of a different recipe"):
        run_suite(suite, runs_dir=tmp_path / "runs")


def test_bad_suites_are_named(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[[runs]]\nname = "a"\nrecipe = "r.toml"\nepochs = 3\n')
    with pytest.raises(RecipeError, match=r"runs\[0\] needs name and recipe .*'epochs'"):
        load_suite(path)
    path.write_text("description = 'nothing'\n")
    with pytest.raises(RecipeError, match="no \\[\\[runs\\]\\]"):
        load_suite(path)


def test_the_committed_suites_load():
    for path in (REPO / "evaluation" / "suites").glob("*.toml"):
        for run in load_suite(path)["runs"]:
            assert (REPO / "evaluation" / "suites" / run["recipe"]).exists(), run["recipe"]
