"""Checkpoints that were damaged or cut short: found by their checksums, named, and passed
over for the newest intact step, by ``opjax.load``, ``opjax evaluate`` and ``--resume``;
``best`` and ``metrics.jsonl`` repaired on resume."""

import json
import logging
import shutil
from pathlib import Path

import jax
import numpy as np
import pytest

import opjax
from opjax.cli import main
from opjax.runs import directory as rd
from opjax.runs.checkpoints import CHECKSUMS, RunCheckpoints, checksum_problem
from opjax.training import load_recipe
from opjax.workflows import train
from tests.conftest import REPO, tiny_darcy_overrides

RECIPE = REPO / "train" / "fno_darcy16.toml"


@pytest.fixture(scope="module")
def finished_run(neuralop_data, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("intact") / "run"
    train(load_recipe(RECIPE, tiny_darcy_overrides(neuralop_data, run_dir, epochs=3)))
    return run_dir


def _copy(run_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    return copy


def _steps(run_dir: Path, which: str = "latest") -> list[Path]:
    folder = run_dir / rd.CHECKPOINTS / which
    return sorted((p for p in folder.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))


def _largest_file(step_dir: Path) -> Path:
    files = [p for p in step_dir.rglob("*") if p.is_file() and p.name != CHECKSUMS]
    return max(files, key=lambda p: p.stat().st_size)


def _params_of_step(run_dir: Path, step: int):
    template = opjax.load(run_dir).params
    checkpoints = RunCheckpoints(str(run_dir / rd.CHECKPOINTS), read_only=True)
    try:
        return checkpoints.restore_params("latest", template, step=step)
    finally:
        checkpoints.close()


def _damage(path: Path, how: str) -> None:
    if how == "flipped bit":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x10
        path.write_bytes(bytes(data))
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.unlink()


def _recipe_to_resume(run_dir: Path) -> dict:
    recipe = load_recipe(run_dir / rd.CONFIG)
    recipe["run_dir"] = str(run_dir)
    return recipe


def test_every_committed_step_carries_checksums_that_verify(finished_run):
    steps = _steps(finished_run) + _steps(finished_run, "best")
    assert len(_steps(finished_run)) == 2 and steps
    for step_dir in steps:
        table = json.loads((step_dir / CHECKSUMS).read_text())
        assert any(name.startswith("state/") for name in table)
        assert checksum_problem(step_dir) is None


@pytest.mark.parametrize("how", ["flipped bit", "truncated", "deleted"])
def test_a_damaged_newest_step_is_named_and_the_older_one_loaded(
    finished_run, tmp_path, caplog, how
):
    run_dir = _copy(finished_run, tmp_path)
    older, newest = _steps(run_dir)
    expected = _params_of_step(run_dir, int(older.name))
    damaged = _largest_file(newest)
    _damage(damaged, how)
    with caplog.at_level(logging.WARNING, logger="opjax"):
        loaded = opjax.load(run_dir)
    jax.tree.map(np.testing.assert_array_equal, loaded.params, expected)
    assert f"checkpoint {newest} " in caplog.text
    assert str(damaged.relative_to(newest)) in caplog.text
    assert damaged.exists() == (how != "deleted")  # a read-only load changes nothing


def test_no_intact_step_is_one_clear_error(finished_run, tmp_path, capsys):
    run_dir = _copy(finished_run, tmp_path)
    for step_dir in _steps(run_dir):
        _damage(_largest_file(step_dir), "flipped bit")
    assert main(["evaluate", str(run_dir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no intact 'latest' checkpoint" in err[0], err


def test_resume_passes_over_a_corrupt_step_and_ends_as_the_uninterrupted_run(
    finished_run, tmp_path, caplog
):
    run_dir = _copy(finished_run, tmp_path)
    newest = _steps(run_dir)[-1]
    _damage(_largest_file(newest), "flipped bit")
    with caplog.at_level(logging.WARNING, logger="opjax"):
        train(_recipe_to_resume(run_dir), resume=True)
    assert f"checkpoint {newest} has" in caplog.text and "deleting it" in caplog.text
    assert checksum_problem(newest) is None  # written again, with its checksums
    reference, resumed = opjax.load(finished_run), opjax.load(run_dir)
    jax.tree.map(np.testing.assert_array_equal, resumed.params, reference.params)
    assert [r["epoch"] for r in rd.read_metrics(run_dir)] == [0, 1, 2]


def test_a_best_older_than_the_recorded_best_epoch_is_rewritten_on_resume(
    finished_run, tmp_path, caplog
):
    run_dir = _copy(finished_run, tmp_path)
    checkpoints = RunCheckpoints(str(run_dir / rd.CHECKPOINTS), read_only=True)
    recorded = checkpoints.restore_meta("latest")["best"]
    checkpoints.close()
    assert recorded["epoch"] >= 1  # its step is one of the two latest keeps
    # As if killed after latest committed and before best did: best's newest step is gone.
    shutil.rmtree(_steps(run_dir, "best")[-1])
    with caplog.at_level(logging.WARNING, logger="opjax"):
        train(_recipe_to_resume(run_dir), resume=True)
    assert f"the best epoch is {recorded['epoch']}: rewrote it from latest" in caplog.text
    checkpoints = RunCheckpoints(str(run_dir / rd.CHECKPOINTS), read_only=True)
    assert checkpoints.restore_meta("best")["epoch"] == recorded["epoch"]
    checkpoints.close()
    best, reference = opjax.load(run_dir, "best"), opjax.load(finished_run, "best")
    jax.tree.map(np.testing.assert_array_equal, best.params, reference.params)


def test_resume_keeps_the_valid_metrics_records_around_a_garbage_line(finished_run, tmp_path):
    run_dir = _copy(finished_run, tmp_path)
    path = run_dir / rd.METRICS
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "{not json", *lines[1:], '{"epoch": 1']) + "\n")
    train(_recipe_to_resume(run_dir), resume=True)
    assert path.read_text().splitlines() == lines
