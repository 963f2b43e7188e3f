"""Each benchmark's own metrics, chosen by the format of the data being evaluated.

``benchmark_metrics(fmt, pred, target)`` takes predictions and targets in physical units,
one-step fields ``[n, *space, c]`` or rollouts ``[n, T, *space, c]`` (no context steps),
and returns scalar metrics named as the benchmark names them:

* ``pdebench``: RMSE, nRMSE, cRMSE, bRMSE, fRMSE low/mid/high, max error
  (:mod:`.pdebench`, ``initial_step = 0`` since the context is already excluded;
  one-step fields count as trajectories of one step), on the unit domain;
* ``the_well``: MSE, NMSE, NRMSE, VRMSE, MAE, L-infinity, Pearson R
  (:mod:`.the_well`), averaged over samples, steps and channels;
* ``poseidon``: the median over samples of the relative L1 error of all channels as one
  group, in percent (:mod:`.poseidon`);
* any other format: none (neuraloperator's relative L2 and H1 are always reported).

PDE-Refiner's correlation metrics belong to rollouts and are reported with them
(:mod:`opjax.evaluation.rollout_evaluation`).
"""

from __future__ import annotations

import numpy as np

from opjax.metrics.pdebench import pdebench_metrics
from opjax.metrics.poseidon import poseidon_median_relative_l1
from opjax.metrics.the_well import (
    well_linf,
    well_mae,
    well_mse,
    well_nmse,
    well_nrmse,
    well_pearson_r,
    well_vrmse,
)

# The formats whose benchmark defines metrics of its own.
BENCHMARK_FORMATS = ("pdebench", "the_well", "poseidon")

_WELL = {
    "mse": well_mse,
    "nmse": well_nmse,
    "nrmse": well_nrmse,
    "vrmse": well_vrmse,
    "mae": well_mae,
    "linf": well_linf,
    "pearson_r": well_pearson_r,
}


def benchmark_metrics(
    fmt: str, pred: np.ndarray, target: np.ndarray, *, n_spatial_dims: int
) -> dict[str, float]:
    """The metrics of the benchmark whose files have format ``fmt`` (see the module docstring).

    Args:
        pred, target: ``[n, *space, c]`` or ``[n, T, *space, c]``.
        n_spatial_dims: the number of spatial axes.
    """
    pred, target = np.asarray(pred, np.float32), np.asarray(target, np.float32)
    if pred.shape != target.shape:
        raise ValueError(f"pred has shape {pred.shape} but target has shape {target.shape}")
    trajectory = pred.ndim == n_spatial_dims + 3
    if fmt == "pdebench":
        if not trajectory:
            pred, target = pred[:, None], target[:, None]
        values = pdebench_metrics(pred, target, initial_step=0)
        return {f"pdebench_{k}": float(v) for k, v in values.items()}
    if fmt == "the_well":
        return {
            f"well_{name}": float(np.mean(metric(pred, target, n_spatial_dims=n_spatial_dims)))
            for name, metric in _WELL.items()
        }
    if fmt == "poseidon":
        if trajectory:
            pred = pred.reshape(-1, *pred.shape[2:])
            target = target.reshape(-1, *target.shape[2:])
        median = poseidon_median_relative_l1(pred, target)
        return {"poseidon_median_relative_l1_percent": float(np.mean(median))}
    return {}
