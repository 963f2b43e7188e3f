"""Objectives: pure functions ``(params, batch, rng) -> (loss, aux)``.

``params`` are the model's variables: the trainable ``"params"`` collection and any state
collections (``"batch_stats"`` of batch norm). An objective that updates state returns the
new state collections as ``aux["model_state"]``; the train step differentiates with
respect to ``"params"`` only and carries the state forward.

A batch is a Sample (normalised) plus ``weight [batch]``: 1 for real samples, 0 for the
padding that fills the last batch of an epoch to the fixed batch size (one compiled shape,
and always divisible by the number of devices). A training loss ``(pred, true, weight) ->
scalar`` sees the real samples only: the weighted mean of a per-sample loss, or a loss
defined on the whole batch (Poseidon's relative L1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from opjax.evaluation.metrics import relative_h1, relative_lp
from opjax.evaluation.poseidon_metrics import channel_group_bounds

Objective = Callable[[dict, dict, jax.Array], tuple[jax.Array, dict]]
TrainingLoss = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]

LOSSES = ("l2", "h1", "relative_l1")


def weighted_mean(values: jax.Array, weight: jax.Array) -> jax.Array:
    return jnp.sum(values * weight) / jnp.maximum(jnp.sum(weight), 1.0)


def grouped_relative_l1(
    pred: jax.Array,
    true: jax.Array,
    weight: jax.Array,
    channel_groups: Sequence[int] | None = None,
) -> jax.Array:
    """Poseidon's training loss: mean over channel groups of a batch-wide relative L1,

        loss = (1 / G) sum_g  mean_{b, x, c in g} |pred - true|
                              / (mean_{b, x, c in g} |true| + 1e-10),

    means over the real samples (``weight > 0``) of the batch, all grid points and the
    group's channels (``channel_groups``: boundaries as in
    :mod:`opjax.evaluation.poseidon_metrics`, None: one group). ``pred, true:
    [batch, *space, channels]``.
    """
    bounds = channel_group_bounds(channel_groups, true.shape[-1])
    axes = tuple(range(1, true.ndim - 1))
    error = jnp.sum(jnp.abs(pred - true), axis=axes)  # [b, c]
    size = jnp.sum(jnp.abs(true), axis=axes)
    points = math.prod(true.shape[1:-1]) * jnp.maximum(jnp.sum(weight), 1.0)
    terms = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        count = points * (hi - lo)
        mean_error = jnp.sum(error[:, lo:hi] * weight[:, None]) / count
        mean_size = jnp.sum(size[:, lo:hi] * weight[:, None]) / count
        terms.append(mean_error / (mean_size + 1e-10))
    return jnp.mean(jnp.stack(terms))


def training_loss(
    name: str, h1_periodic: bool = True, channel_groups: Sequence[int] | None = None
) -> TrainingLoss:
    """``(pred, true, weight) -> scalar``: neuraloperator's relative L2 or H1 loss (mean
    over the real samples), or Poseidon's grouped ``"relative_l1"``."""
    if name == "l2":
        return lambda pred, true, weight: weighted_mean(relative_lp(pred, true), weight)
    if name == "h1":
        return lambda pred, true, weight: weighted_mean(
            relative_h1(pred, true, periodic=h1_periodic), weight
        )
    if name == "relative_l1":
        return lambda pred, true, weight: grouped_relative_l1(pred, true, weight, channel_groups)
    raise ValueError(f"unknown loss {name!r}; expected one of {LOSSES}")


def one_step_objective(model: nn.Module, loss: TrainingLoss) -> Objective:
    """Predict ``y`` from ``x`` (and the lead time ``t``, when the batch has one) in one
    call: ``loss(model(x, t), y, weight)``."""

    def objective(params, batch, rng):
        del rng
        state = [name for name in params if name != "params"]
        aux = {}
        if state:  # e.g. batch norm: update the running statistics in train mode
            pred, aux["model_state"] = model.apply(
                params, batch["x"], t=batch.get("t"), train=True, mutable=state
            )
        else:
            pred = model.apply(params, batch["x"], t=batch.get("t"), train=True)
        return loss(pred, batch["y"], batch["weight"]), aux

    return objective
