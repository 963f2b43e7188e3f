"""``opjax evaluate`` on a PDEBench file reports PDEBench's metrics, one step and rollout."""

import json

import h5py
import numpy as np

import opjax
from opjax.cli import main
from opjax.evaluation.rollout import make_rollout
from opjax.metrics.pdebench import pdebench_nrmse


def write_pdebench_advection(path, n=16, n_t=6, nx=32):
    """PDEBench's 1D layout (``tensor [n, t, x]``, coordinates, ``t-coordinate [t + 1]``)
    holding travelling sine waves."""
    x = (np.arange(nx) + 0.5) / nx
    t = np.arange(n_t + 1) * 0.1
    phase = np.random.default_rng(0).uniform(0, 2 * np.pi, n)
    u = np.sin(2 * np.pi * (x[None, None] - 0.4 * t[None, :n_t, None]) + phase[:, None, None])
    with h5py.File(path, "w") as f:
        f["tensor"] = u.astype(np.float32)
        f["x-coordinate"] = x
        f["t-coordinate"] = t
        f.attrs["beta"] = 0.4
    return path


def test_pdebench_metrics_in_the_report(tmp_path, capsys):
    data = write_pdebench_advection(tmp_path / "1D_Advection_Sols_beta0.4.hdf5")
    run_dir = tmp_path / "run"
    overrides = [
        f"run_dir='{run_dir}'",
        "data.generate=''",  # not the built-in example's generated data
        "data.format='pdebench'",
        f"data.train='{data}'",
        f"data.test={{ adv = '{data}' }}",
        "data.x_key='tensor[0]'",
        "data.y_key='tensor[1]'",
        "model.hparams={ n_modes = [4], hidden_channels = 8, n_layers = 1 }",
        "train.epochs=1",
        "train.batch_size=8",
        "train.eval_batch_size=8",
    ]
    args = ["train", "--quiet"] + [a for o in overrides for a in ("--set", o)]
    assert main(args) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "--rollout", "3"]) == 0
    assert "| adv (one step) | pdebench_rmse | pdebench_nrmse |" in capsys.readouterr().out
    results = json.loads((run_dir / "report" / "metrics.json").read_text())["adv"]

    run = opjax.load(run_dir)
    with h5py.File(data) as f:
        u = f["tensor"][()][..., None]
    one_step = np.asarray(run.predict(u[:, 0]))
    expected = float(pdebench_nrmse(one_step[:, None], u[:, 1:2], initial_step=0))
    np.testing.assert_allclose(results["benchmark"]["pdebench_nrmse"], expected, rtol=1e-5)
    rolled = np.asarray(make_rollout(run.model, run.normalizer)(run.params, u[:, 0], 3))
    expected = float(pdebench_nrmse(rolled, u[:, 1:4], initial_step=0))
    np.testing.assert_allclose(
        results["rollout"]["benchmark"]["pdebench_nrmse"], expected, rtol=1e-5
    )
