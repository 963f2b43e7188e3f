"""Evaluate a model on a Sample: predictions and per-sample relative errors.

Predictions are made on the normalised input and decoded back to physical units; errors
are measured in physical units against the raw target (as neuraloperator evaluates).
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
from opjax.evaluation.metrics import relative_h1, relative_lp


@functools.partial(jax.jit, static_argnames=("model",))
def _predict(model: nn.Module, params, normalizers: Normalizers, x):
    return normalizers.decode_output(model.apply(params, normalizers.encode_input(x)))


@functools.partial(jax.jit, static_argnames=("model", "h1_periodic"))
def _errors(model: nn.Module, params, normalizers: Normalizers, x, y, h1_periodic: bool):
    pred = _predict(model, params, normalizers, x)
    return pred, {"l2": relative_lp(pred, y), "h1": relative_h1(pred, y, h1_periodic)}


def make_predict(model: nn.Module, normalizers: Normalizers) -> Callable:
    """``predict(params, x) -> y`` in physical units, jitted (compiled once per model and
    input shape, shared by every caller)."""

    def predict(params, x):
        return _predict(model, params, normalizers, x)

    return predict


def make_error_fn(model: nn.Module, normalizers: Normalizers, h1_periodic: bool = True):
    """``errors(params, x, y) -> (pred, {"l2": [b], "h1": [b]})``, jitted likewise."""

    def errors(params, x, y):
        return _errors(model, params, normalizers, x, y, h1_periodic)

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
        if sharding is not None:
            x, y = jax.device_put((x, y), sharding)
        pred, errs = error_fn(params, x, y)
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
    """Mean over the test set of each per-sample error (the number benchmarks report)."""
    return {k: float(np.mean(v)) for k, v in errors.items()}
