"""Objectives: pure functions ``(params, batch, rng) -> (loss, aux)``.

``params`` are the model's variables: the trainable ``"params"`` collection and any state
collections (``"batch_stats"`` of batch norm). An objective that updates state returns the
new state collections as ``aux["model_state"]``; the train step differentiates with
respect to ``"params"`` only and carries the state forward.

A batch is a Sample (normalised) plus ``weight [batch]``: 1 for real samples, 0 for the
padding that fills the last batch of an epoch to the fixed batch size (one compiled shape,
and always divisible by the number of devices). The loss is the weighted mean of a
per-sample loss over the real samples.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from opjax.evaluation.metrics import relative_h1, relative_lp

Objective = Callable[[dict, dict, jax.Array], tuple[jax.Array, dict]]


def per_sample_loss(name: str, h1_periodic: bool = True) -> Callable:
    """``(pred, true) -> [batch]``: neuraloperator's relative L2 or H1 loss."""
    if name == "l2":
        return relative_lp
    if name == "h1":
        return lambda pred, true: relative_h1(pred, true, periodic=h1_periodic)
    raise ValueError(f"unknown loss {name!r}; expected 'l2' or 'h1'")


def weighted_mean(values: jax.Array, weight: jax.Array) -> jax.Array:
    return jnp.sum(values * weight) / jnp.maximum(jnp.sum(weight), 1.0)


def one_step_objective(model: nn.Module, loss: Callable) -> Objective:
    """Predict ``y`` from ``x`` in one call: ``loss = mean_b loss(model(x_b), y_b)``."""

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
        values = loss(pred, batch["y"])
        return weighted_mean(values, batch["weight"]), aux

    return objective
