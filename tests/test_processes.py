"""opjax as real processes: two at once, as a user starts them in two terminals (both
succeed, neither damages the other's files, a run directory in use is refused by name), and
a training that fails while its checkpoint managers run (one line, nothing left behind)."""

import json
import os
import subprocess
import sys
import time

import h5py
import pytest

from opjax.cli import main
from opjax.file_locks import hold_or_refuse
from tests.conftest import REPO, tiny_burgers_recipe

TINY_BURGERS = tiny_burgers_recipe(16, 4, points=32)
TINY_TRAINING = [
    "data.generate='tiny.toml'",
    "train.epochs=2",
    "train.eval_every=1",
    "train.batch_size=4",
    "model.hparams={ n_modes = [4], hidden_channels = 4, n_layers = 1 }",
]


def _start(*args: str) -> subprocess.Popen:
    """``python -m opjax.cli ARGS`` in the test's working directory, output captured."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "opjax.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _finish(process: subprocess.Popen) -> tuple[int, str]:
    out, err = process.communicate(timeout=600)
    return process.returncode, out + err


def _assert_complete(path, n_samples):
    with h5py.File(path, "r") as f:
        assert f.attrs["complete"] and int(f.attrs["n_written"]) == n_samples
        assert f["fields/u"].shape[0] == n_samples


@pytest.mark.slow
def test_two_generations_of_one_recipe_write_each_file_once(tmp_path):
    (tmp_path / "tiny.toml").write_text(TINY_BURGERS)
    both = [_start("generate", "tiny.toml", "--set", "output='out'") for _ in range(2)]
    results = [_finish(p) for p in both]
    assert [code for code, _ in results] == [0, 0], results
    # One wrote each split; the other waited, then found it finished (order may vary per split).
    logs = "".join(log for _, log in results)
    assert logs.count("train.h5 is up to date") == 1 and logs.count("test.h5 is up to date") == 1
    _assert_complete(tmp_path / "out" / "train.h5", 16)
    _assert_complete(tmp_path / "out" / "test.h5", 4)
    assert not list((tmp_path / "out").glob("*.partial"))


@pytest.mark.slow
def test_two_trainings_in_one_directory_take_two_run_directories(tmp_path):
    (tmp_path / "tiny.toml").write_text(TINY_BURGERS)
    overrides = [a for o in TINY_TRAINING for a in ("--set", o)]
    both = [_start("train", "--quiet", *overrides) for _ in range(2)]
    results = [_finish(p) for p in both]
    assert [code for code, _ in results] == [0, 0], results
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert runs == ["fno_burgers1d", "fno_burgers1d-1"]
    for name in runs:
        records = [
            json.loads(line)
            for line in (tmp_path / "runs" / name / "metrics.jsonl").read_text().splitlines()
        ]
        epochs = [r["epoch"] for r in records if "train_loss" in r]
        assert epochs == [0, 1], records
    _assert_complete(tmp_path / "data" / "tiny" / "train.h5", 16)


def test_a_run_directory_in_use_is_refused_by_name(tmp_path, capsys):
    """Another process holds ``runs/mine``'s lock: training there stops before touching it."""
    (tmp_path / "tiny.toml").write_text(TINY_BURGERS)
    run_dir = tmp_path / "runs" / "mine"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from opjax.file_locks import hold_or_refuse; "
            f"lock = hold_or_refuse({str(run_dir / '.lock')!r}, 'x'); print('held', flush=True); "
            "time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        args = ["train", "--quiet", "--set", f"run_dir='{run_dir}'"]
        assert main(args + [a for o in TINY_TRAINING for a in ("--set", o)]) == 2
        err = capsys.readouterr().err.strip()
        assert err == f"opjax: error: run directory {run_dir} is in use by another opjax process"
        assert sorted(p.name for p in run_dir.iterdir()) == [".lock"]
    finally:
        holder.kill()
        holder.wait()
    # The holder is gone (killed, not released): the operating system freed its lock.
    deadline = time.monotonic() + 10
    while True:
        try:
            hold_or_refuse(run_dir / ".lock", "x").release()
            break
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.1)


@pytest.mark.slow
def test_a_training_that_reaches_nan_stops_with_one_line_and_leaves_nothing(
    neuralop_data, tmp_path
):
    """Exit code 3 and one line on stderr (no absl or traceback noise from the checkpoint
    managers, which are running by then); no run directory left to refuse the next run."""
    from tests.conftest import tiny_darcy_overrides

    overrides = tiny_darcy_overrides(neuralop_data, tmp_path / "run") + ["optimizer.lr=1e4"]
    recipe = str(REPO / "train" / "fno_darcy16.toml")
    code, log = _finish(
        _start("train", recipe, "--quiet", *[a for o in overrides for a in ("--set", o)])
    )
    assert code == 3
    (line,) = log.strip().splitlines()
    assert line.startswith("opjax: error: non-finite training loss (nan)"), log
    assert "No checkpoint had been saved yet" in line
    assert not (tmp_path / "run").exists()
