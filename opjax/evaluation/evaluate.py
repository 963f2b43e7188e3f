"""Evaluate a model on a Sample: predictions and per-sample relative errors.

Predictions are made on the normalised input (and the lead time ``t`` and PDE parameters
``z``, for samples that carry them) and decoded back to physical units; errors are
measured in physical units against the raw target (as neuraloperator and Poseidon
evaluate).

Errors per sample: ``"l2"`` and ``"h1"`` (neuraloperator's relative norms) and, when asked
for, ``"relative_l1"`` ``[n, groups]`` (Poseidon's relative L1 per channel group, a
fraction). :func:`summarize` reduces each to the number its benchmark reports.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import flax.linen as nn
import jax
import numpy as np
from jax.sharding import Sharding

from opjax.data.batching import epoch_batches
from opjax.data.normalizers import Normalizers
from opjax.metrics.poseidon import poseidon_relative_lp
from opjax.metrics.relative import relative_h1, relative_lp
from opjax.runs.predict import predict


@functools.partial(jax.jit, static_argnames=("model", "h1_periodic", "channel_groups"))
def _errors(
    model: nn.Module,
    params,
    normalizers: Normalizers,
    x,
    y,
    t,
    z,
    h1_periodic: bool,
    channel_groups: tuple[int, ...] | None,
):
    pred = predict(model, params, normalizers, x, t, z)
    errors = {"l2": relative_lp(pred, y), "h1": relative_h1(pred, y, h1_periodic)}
    if channel_groups is not None:
        groups = channel_groups or None  # (): every channel in one group
        errors["relative_l1"] = poseidon_relative_lp(pred, y, groups, p=1, percent=False)
    return pred, errors


def make_error_fn(
    model: nn.Module,
    normalizers: Normalizers,
    h1_periodic: bool = True,
    channel_groups: tuple[int, ...] | None = None,
):
    """``errors(params, x, y, t=None, z=None) -> (pred, {"l2": [b], "h1": [b], ...})``,
    jitted likewise. With ``channel_groups`` (a tuple of boundaries; ``()``: all channels in
    one group) it adds Poseidon's ``"relative_l1"`` ``[b, groups]``."""

    def errors(params, x, y, t=None, z=None):
        return _errors(model, params, normalizers, x, y, t, z, h1_periodic, channel_groups)

    return errors


def per_sample_errors(
    error_fn: Callable,
    params,
    sample: dict,
    batch_size: int,
    sharding: Sharding | None = None,
    keep_predictions: int = 0,
) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Errors of every sample ``{"l2": [n], "h1": [n]}`` and the first predictions.

    Batches are fixed-size (the last is padded and the padding discarded) and placed
    with ``sharding`` when given (e.g. split over the devices of a data mesh).
    """
    n = len(sample["x"])
    indices, weights = epoch_batches(n, batch_size)
    chunks: dict[str, list] = {}
    predictions = []
    kept = 0
    for idx, w in zip(indices, weights):
        x, y = sample["x"][idx], sample["y"][idx]
        t = sample["t"][idx] if "t" in sample else None
        z = sample["params"][idx] if "params" in sample else None
        if sharding is not None:
            x, y, t, z = jax.device_put((x, y, t, z), sharding)
        pred, errs = error_fn(params, x, y, t, z)
        real = w > 0
        for key, value in errs.items():
            chunks.setdefault(key, []).append(np.asarray(value)[real])
        if kept < keep_predictions:
            take = np.asarray(pred)[real][: keep_predictions - kept]
            predictions.append(take)
            kept += len(take)
    errors = {k: np.concatenate(v) for k, v in chunks.items()}
    return errors, (np.concatenate(predictions) if predictions else None)


def summarize(errors: dict[str, np.ndarray]) -> dict[str, float]:
    """The number each benchmark reports: the mean over the test set of a per-sample error
    ``[n]``; for Poseidon's per-group errors ``[n, groups]``, the mean over groups of the
    median over the test set (its ``mean_over_median_relative_l1_error``)."""
    return {
        k: float(np.mean(np.median(v, axis=0)) if v.ndim == 2 else np.mean(v))
        for k, v in errors.items()
    }
