"""End-to-end training on a slice of the real Darcy files, with tiny models."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

import opjax
from opjax.data import DataFormatError
from opjax.runs import directory as rd
from opjax.runs import read_model_card
from opjax.runs.checkpoints import RunCheckpoints
from opjax.sharding import check_batch_size
from opjax.training import NonFiniteLossError, RecipeError, load_recipe
from opjax.workflows import train
from tests.conftest import REPO, tiny_darcy_overrides

RECIPE = REPO / "train" / "fno_darcy16.toml"
TIMING_KEYS = {"time_s", "samples_per_s"}


def _recipe(data, run_dir, *extra, epochs=3):
    return load_recipe(RECIPE, [*tiny_darcy_overrides(data, run_dir, epochs), *extra])


class FakeMesh:
    """Stands in for a mesh of ``n`` devices (only its size is read)."""

    def __init__(self, n):
        self.devices = np.empty(n, object)


def _losses(run_dir):
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in rd.read_metrics(run_dir)]


@pytest.fixture(scope="module")
def reference_run(neuralop_data, tmp_path_factory):
    """One uninterrupted tiny run, shared by the tests that compare against it."""
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    result = train(_recipe(neuralop_data, run_dir, epochs=6))
    return run_dir, result


def test_run_directory_contract(reference_run):
    run_dir, result = reference_run
    for name in (rd.CONFIG, rd.MODEL_CARD, rd.METRICS, rd.CHECKPOINTS):
        assert (run_dir / name).exists(), name
    card = read_model_card(run_dir)
    assert card.model == "fno" and card.hparams["in_channels"] == 1
    assert card.normalizers.x is None and len(card.normalizers.y.mean) == 1
    assert card.sample_shapes == {"x": (16, 16, 1), "y": (16, 16, 1)}
    assert card.training.loss == "h1" and card.data.tests == {"16": (16, 16), "32": (32, 32)}
    assert card.source is None and card.weights == "params"
    records = rd.read_metrics(run_dir)
    assert [r["epoch"] for r in records] == list(range(6))
    assert records[-1]["train_loss"] < 0.8 * records[0]["train_loss"]
    assert set(result.final_metrics) == {"16", "32"}
    assert records[-1]["test/16/l2"] == pytest.approx(result.final_metrics["16"]["l2"])


def test_load_reproduces_the_final_evaluation(reference_run, neuralop_data):
    run_dir, result = reference_run
    run = opjax.load(run_dir)
    jax.tree.map(np.testing.assert_array_equal, run.params, result.params)
    from opjax.data import read_neuralop_pt
    from opjax.metrics import relative_lp

    test = read_neuralop_pt(neuralop_data / "darcy_test_16.pt", n_samples=8)
    l2 = float(np.mean(relative_lp(run.predict(test["x"]), test["y"])))
    assert l2 == pytest.approx(result.final_metrics["16"]["l2"], rel=1e-5)


def _cli(*args, env=None):
    return subprocess.Popen(
        [sys.executable, "-m", "opjax.cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
    )


def _kill_while_checkpointing(process, checkpoints: Path, timeout: float) -> None:
    """SIGKILL ``process`` as soon as Orbax is writing a checkpoint (or after ``timeout``)."""
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        if checkpoints.exists() and any("tmp" in p.name for p in checkpoints.glob("*/*")):
            break
        time.sleep(0.001)
    process.send_signal(signal.SIGKILL)
    process.wait()


def test_resume_after_sigkill_is_bitwise_identical(reference_run, neuralop_data, tmp_path):
    ref_dir, ref = reference_run
    run_dir = tmp_path / "run"
    args = ["train", str(RECIPE), "--quiet"]
    for override in tiny_darcy_overrides(neuralop_data, run_dir, epochs=6):
        args += ["--set", override]
    # First a kill at a moment Orbax is mid-write, then one at a random moment.
    process = _cli(*args)
    _kill_while_checkpointing(process, run_dir / rd.CHECKPOINTS, timeout=60)
    process = _cli("train", "--resume", str(run_dir), "--quiet")
    time.sleep(np.random.default_rng().uniform(4.0, 8.0))
    process.send_signal(signal.SIGKILL)
    process.wait()
    process = _cli("train", "--resume", str(run_dir), "--quiet")
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err.decode()

    resumed = opjax.load(run_dir)
    jax.tree.map(np.testing.assert_array_equal, resumed.params, ref.params)
    assert _losses(run_dir) == _losses(ref_dir)


def test_incomplete_checkpoint_is_never_restored(reference_run, tmp_path):
    """A later step left half-written (under Orbax's temporary name) is never restored."""
    ref_dir, ref = reference_run
    run_dir = tmp_path / "copy"
    shutil.copytree(ref_dir, run_dir)
    latest = run_dir / rd.CHECKPOINTS / "latest"
    last = max(int(p.name) for p in latest.iterdir() if p.name.isdigit())
    partial = latest / f"{last + 1000}.orbax-checkpoint-tmp-1"
    shutil.copytree(latest / str(last), partial)
    for f in list(partial.rglob("*"))[: len(list(partial.rglob("*"))) // 2]:
        if f.is_file():
            f.write_bytes(b"")
    checkpoints = RunCheckpoints(str(run_dir / rd.CHECKPOINTS))
    assert checkpoints.latest_step() == last
    checkpoints.close()
    restored = opjax.load(run_dir)
    jax.tree.map(np.testing.assert_array_equal, restored.params, ref.params)


def test_data_parallel_over_four_devices_matches_one(reference_run, neuralop_data, tmp_path):
    ref_dir, _ = reference_run
    run_dir = tmp_path / "four"
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=4"
    env = {**os.environ, "XLA_FLAGS": flags.strip()}
    script = (
        "import jax, sys; assert jax.device_count() == 4, jax.devices();"
        "from opjax.workflows import load_recipe, train;"
        "from tests.conftest import tiny_darcy_overrides;"
        "from pathlib import Path;"
        f"overrides = tiny_darcy_overrides(Path('{neuralop_data}'), Path('{run_dir}'), 6);"
        f"r = load_recipe('{RECIPE}', overrides);"
        "train(r)"
    )
    subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=REPO)
    four, one = _losses(run_dir), _losses(ref_dir)
    assert len(four) == len(one) == 6
    for a, b in zip(four, one):
        for key in a:
            if key.startswith(("train_loss", "test/")):
                assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-7), key


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(neuralop_data, tmp_path):
    run_dir = tmp_path / "nan"
    recipe = _recipe(
        neuralop_data,
        run_dir,
        'optimizer.schedule="step"',
        "optimizer.step_size=1",
        "optimizer.gamma=1e30",
    )
    with pytest.raises(
        NonFiniteLossError, match=r"at step \d+ \(epoch 1\).*last good checkpoint is step 8"
    ):
        train(recipe)
    run = opjax.load(run_dir)
    assert all(bool(np.all(np.isfinite(a))) for a in jax.tree.leaves(run.params))


def test_bad_input_errors_name_the_culprit(neuralop_data, tmp_path):
    with pytest.raises(
        RecipeError, match="model.hparams.in_channels = 3, but the data has 1 input"
    ):
        train(_recipe(neuralop_data, tmp_path / "a", "model.hparams.in_channels=3"))
    with pytest.raises(DataFormatError, match="unknown data format 'mat' .recipe key data.format"):
        train(_recipe(neuralop_data, tmp_path / "c", 'data.format="mat"'))
    with pytest.raises(DataFormatError, match="missing.pt: no such file"):
        train(_recipe(neuralop_data, tmp_path / "b", f"data.train={tmp_path / 'missing.pt'}"))
    with pytest.raises(ValueError, match="train.batch_size = 16 is not divisible by the 3"):
        check_batch_size(16, FakeMesh(3))


def test_existing_run_dir_is_not_overwritten(reference_run, neuralop_data):
    ref_dir, _ = reference_run
    with pytest.raises(FileExistsError, match="--resume"):
        train(_recipe(neuralop_data, ref_dir))
    assert json.loads((ref_dir / rd.MODEL_CARD).read_text())["model"] == "fno"
