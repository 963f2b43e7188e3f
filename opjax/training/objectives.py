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

Objectives: :func:`one_step_objective` (predict ``y`` from ``x`` in one call) and
:func:`refinement_objective` (PDE-Refiner's denoising objective at a random refinement step).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from opjax.data.sample import conditioning
from opjax.metrics.poseidon import channel_group_bounds
from opjax.metrics.relative import relative_h1, relative_lp
from opjax.models.refiner import PDERefiner

Objective = Callable[[dict, dict, jax.Array], tuple[jax.Array, dict]]
TrainingLoss = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]

LOSSES = ("l2", "h1", "relative_l1", "mse")


def weighted_mean(values: jax.Array, weight: jax.Array) -> jax.Array:
    return jnp.sum(values * weight) / jnp.maximum(jnp.sum(weight), 1.0)


def squared_error(pred: jax.Array, true: jax.Array) -> jax.Array:
    """pdearena's per-sample MSE ``[batch]``: the mean over space of the squared error,
    summed over channels (``CustomMSELoss`` before its batch mean). ``pred, true:
    [batch, *space, channels]``."""
    axes = tuple(range(1, true.ndim - 1))
    return jnp.sum(jnp.mean((pred - true) ** 2, axis=axes), axis=-1)


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
    :mod:`opjax.metrics.poseidon`, None: one group). ``pred, true:
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
    over the real samples), Poseidon's grouped ``"relative_l1"``, or pdearena's ``"mse"``
    (:func:`squared_error`, mean over the real samples)."""
    if name == "l2":
        return lambda pred, true, weight: weighted_mean(relative_lp(pred, true), weight)
    if name == "h1":
        return lambda pred, true, weight: weighted_mean(
            relative_h1(pred, true, periodic=h1_periodic), weight
        )
    if name == "relative_l1":
        return lambda pred, true, weight: grouped_relative_l1(pred, true, weight, channel_groups)
    if name == "mse":
        return lambda pred, true, weight: weighted_mean(squared_error(pred, true), weight)
    raise ValueError(f"unknown loss {name!r}; expected one of {LOSSES}")


def one_step_objective(model: nn.Module, loss: TrainingLoss) -> Objective:
    """Predict ``y`` from ``x`` (and the lead time ``t`` and PDE parameters ``z``, when the
    batch has them) in one call: ``loss(model(x, t, z), y, weight)``."""

    def objective(params, batch, rng):
        del rng
        pred, aux = _apply_train(model, params, batch["x"], **conditioning(batch), train=True)
        return loss(pred, batch["y"], batch["weight"]), aux

    return objective


def _apply_train(model: nn.Module, params: dict, *args, **kwargs) -> tuple[jax.Array, dict]:
    """``model.apply`` in train mode, returning ``(output, aux)``; with state collections
    (e.g. batch norm's running statistics) their update goes to ``aux["model_state"]``."""
    state = [name for name in params if name != "params"]
    if not state:
        return model.apply(params, *args, **kwargs), {}
    out, model_state = model.apply(params, *args, mutable=state, **kwargs)
    return out, {"model_state": model_state}


def refinement_steps(rng: jax.Array, y: jax.Array, num_refinement_steps: int):
    """PDE-Refiner's random draws for a batch: the step ``k [batch]`` uniform in
    ``{0..K}`` and the noise ``eps`` (standard normal, shaped like ``y``)."""
    k_rng, noise_rng = jax.random.split(rng)
    step = jax.random.randint(k_rng, y.shape[:1], 0, num_refinement_steps + 1)
    return step, jax.random.normal(noise_rng, y.shape, y.dtype)


def refinement_objective(model: nn.Module) -> Objective:
    """PDE-Refiner's training objective for a :class:`~opjax.models.refiner.PDERefiner`:
    per sample, a step ``k ~ U{0..K}`` and noise ``eps`` (:func:`refinement_steps`), and

        loss = weighted mean over the batch of squared_error(NN_k, target_k),

    with the prediction and target of
    :meth:`~opjax.models.refiner.PDERefiner.denoising_pair`: the (scaled difference) next
    state at ``k = 0`` and the noise ``eps`` that was added to the true next state at
    ``k >= 1`` (schedule ``"paper"``), or the DDPM velocity (``"pdearena"``). One
    backbone call per sample, whatever ``K``; the batch's PDE parameters, if any, are the
    backbone's ``z``."""
    if not isinstance(model, PDERefiner):
        raise TypeError(
            f"the refinement objective trains a PDERefiner ('refiner'); got {type(model).__name__}"
        )

    def objective(params, batch, rng):
        step, noise = refinement_steps(rng, batch["y"], model.num_refinement_steps)
        (pred, target), aux = _apply_train(
            model,
            params,
            batch["x"],
            batch["y"],
            step,
            noise,
            z=batch.get("params"),
            method=PDERefiner.denoising_pair,
        )
        return weighted_mean(squared_error(pred, target), batch["weight"]), aux

    return objective
