"""Evaluate a one-step model by autoregressive rollout on the trajectories of a file.

The rollout starts from the first ``k`` states of each trajectory (``k`` and the temporal
subsampling as in training: ``data.window``, or for ``x_key = "u[i]"``, ``y_key = "u[j]"``
one state and a model step of ``j - i`` saved states) and runs ``n_steps`` model steps.
Per step it reports, averaged over the trajectories, the relative L2 error
``||pred_t - true_t||_2 / ||true_t||_2`` (over space and channels) and PDE-Refiner's
Pearson correlation, and the high-correlation times (:mod:`opjax.metrics.correlation`).
A model trained on all2all pairs (time-conditioned, e.g. scOT) steps one saved interval
(``data.window.time_step`` states) per call, its lead time in the recipe's time units.
A model conditioned on PDE parameters (``data.window.params``) gets each trajectory's.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from opjax.data.errors import DataFormatError
from opjax.data.fields import FieldFile, parse_field_key
from opjax.data.formats import open_dataset
from opjax.data.splits import read_params
from opjax.data.windowing import rollout_targets
from opjax.evaluation.rollout import make_rollout, make_time_rollout
from opjax.metrics.correlation import (
    THRESHOLDS,
    high_correlation_time,
    pearson_correlation,
)


@dataclasses.dataclass
class RolloutResult:
    """Curves ``[n_steps]``, the lead times ``[n_steps]`` and the trajectories themselves."""

    lead_times: np.ndarray
    l2: np.ndarray
    correlation: np.ndarray
    high_correlation_time: dict[str, float]
    truth: np.ndarray  # [n, n_steps, *space, c]
    prediction: np.ndarray

    def summary(self) -> dict:
        return {
            "steps": len(self.l2),
            "model_dt": float(self.lead_times[0]),
            "l2_mean": float(self.l2.mean()),
            "l2_final": float(self.l2[-1]),
            "high_correlation_time": self.high_correlation_time,
            "l2_per_step": self.l2.tolist(),
            "correlation_per_step": self.correlation.tolist(),
        }


def rollout_spec(data_cfg: dict, file: FieldFile) -> tuple[str, int, int]:
    """``(field, k, time_step)`` of the recipe's one-step map (see the module docstring);
    ``data_cfg`` is a resolved recipe's ``[data]`` table."""
    window = data_cfg["window"]
    if window["field"]:
        return window["field"], window["k"], window["time_step"]
    x_name, x_time = parse_field_key(data_cfg["x_key"])
    y_name, y_time = parse_field_key(data_cfg["y_key"])
    if x_name != y_name or not isinstance(x_time, int) or not isinstance(y_time, int):
        raise DataFormatError(
            f"a rollout needs a one-step map of one field: data.window.field, or keys like "
            f"'u[0]' -> 'u[1]'; the recipe maps {data_cfg['x_key']!r} -> {data_cfg['y_key']!r}"
        )
    n_times = file.field(x_name).shape[1]
    step = y_time % n_times - x_time % n_times
    if step <= 0:
        raise DataFormatError(
            f"{data_cfg['x_key']!r} -> {data_cfg['y_key']!r} does not step forward in time"
        )
    return x_name, 1, step


def evaluate_rollout(
    run, data_cfg: dict, path: str, n_steps: int, n_samples: int | None = None
) -> RolloutResult:
    """Roll ``run`` (an :class:`opjax.runs.LoadedRun`) out on the file at ``path``."""
    with open_dataset(path, data_cfg["format"]) as file:
        name, k, time_step = rollout_spec(data_cfg, file)
        field = file.field(name)
        split, window = data_cfg["test_split"], data_cfg["window"]
        if split and split not in file.splits:
            raise DataFormatError(f"{path}: no split {split!r} (splits: {sorted(file.splits)})")
        indices = np.asarray(file.splits[split] if split else np.arange(field.n_samples))
        samples = indices[: n_samples or len(indices)]
        params = read_params(file, window["params"], samples, path)
        target = rollout_targets(
            field, k, n_steps, time_step=time_step, samples=samples, params=params
        )
        times = np.arange(field.shape[1]) if file.times is None else np.asarray(file.times)
        time_scale = window["time_scale"] or file.constants.get("time", 1.0)
    kept = times[::time_step]
    lead_times = kept[k : k + n_steps] - kept[k - 1]
    if window["pairs"] == "all2all":
        # A time-conditioned model: each step is a prediction one saved interval ahead.
        rollout = make_time_rollout(run.model, run.normalizer)
        dt = float(lead_times[0]) / time_scale
        prediction = np.asarray(rollout(run.params, target["x"], dt, n_steps))
    else:
        rollout = make_rollout(run.model, run.normalizer)
        prediction = np.asarray(rollout(run.params, target["x"], n_steps, target.get("params")))
    truth = target["y"]
    axes = tuple(range(2, truth.ndim))
    l2 = np.sqrt(((prediction - truth) ** 2).sum(axis=axes) / (truth**2).sum(axis=axes))
    correlation = np.asarray(pearson_correlation(prediction, truth))
    dt = float(lead_times[0])
    times_above = np.asarray(high_correlation_time(correlation, THRESHOLDS, dt=dt))
    return RolloutResult(
        lead_times=lead_times,
        l2=l2.mean(axis=0),
        correlation=correlation.mean(axis=0),
        high_correlation_time={str(t): float(v) for t, v in zip(THRESHOLDS, times_above)},
        truth=truth,
        prediction=prediction,
    )
