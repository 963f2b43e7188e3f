"""Train a one-step model on windows of generated KS data, then evaluate it by rollout."""

import json

import numpy as np
import pytest

import opjax
from opjax.cli import main
from opjax.data.formats import open_dataset
from opjax.runs import read_model_card

KS = """problem = "ks1d"
chunk_size = 8
[parameters]
points = 64
n_times = 13
dt = 0.1
[splits]
train = 16
test = 4
"""


@pytest.fixture(scope="module")
def ks_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ks")
    (root / "ks.toml").write_text(f"output = '{root / 'data'}'\n" + KS)
    run_dir = root / "run"
    overrides = [
        f"run_dir='{run_dir}'",
        f"data.generate='{root / 'ks.toml'}'",
        "data.window={ field = 'u', k = 2, m = 1, time_step = 2 }",
        "model.hparams={ n_modes = [8], hidden_channels = 8, n_layers = 2 }",
        "train.epochs=2",
        "train.batch_size=8",
        "train.eval_batch_size=8",
    ]
    args = ["train", "--quiet"]
    for override in overrides:
        args += ["--set", override]
    assert main(args) == 0
    return run_dir


def test_window_training_reads_every_window(ks_run):
    card = read_model_card(ks_run)
    # 13 states, every 2nd kept -> 7; windows of 2 + 1 -> 5 per trajectory, 16 trajectories
    assert card.sample_shapes["x"] == (64, 2)
    assert card.hparams["in_channels"] == 2 and card.hparams["out_channels"] == 1


def test_rollout_report(ks_run, capsys):
    assert main(["evaluate", str(ks_run), "--rollout", "4"]) == 0
    printed = capsys.readouterr().out
    assert "| test | 4 | 0.4 |" in printed  # 4 steps of 2 saved states of 0.2
    report = ks_run / "report"
    for plot in ("rollout_test.png", "spectra_test.png", "spacetime_test.png"):
        assert (report / plot).stat().st_size > 0
    rollout = json.loads((report / "metrics.json").read_text())["test"]["rollout"]
    assert len(rollout["l2_per_step"]) == 4 and rollout["model_dt"] == pytest.approx(0.4)

    # The first rollout step is one prediction from the first two kept states.
    run = opjax.load(ks_run)
    with open_dataset(ks_run.parent / "data" / "test.h5") as file:
        u = file.field("u").read(slice(None), slice(None, None, 2))
    x = np.concatenate([u[:, 0], u[:, 1]], axis=-1)
    pred = np.asarray(run.predict(x))
    l2 = np.linalg.norm(pred - u[:, 2], axis=(1, 2)) / np.linalg.norm(u[:, 2], axis=(1, 2))
    np.testing.assert_allclose(rollout["l2_per_step"][0], l2.mean(), rtol=1e-4)
    assert 0 <= rollout["high_correlation_time"]["0.8"] <= 4 * 0.4 + 1e-9
