"""Inference with a reduced-order model (:class:`~opjax.models.PhiROM`): fit the initial
latent to an observed state, integrate the latent ODE, decode anywhere.

An auto-decoder has no encoder: the latent of a new initial condition ``u0`` observed at
points ``x_m`` is the minimiser of ``mean_{m, c} (D(x_m, alpha) - u0(x_m))^2``, found by
``steps`` Adam steps (learning rate ``learning_rate``) from ``alpha = 0``, keeping the best
iterate (Phi-ROM's ``find_latent_descent``: Adam 0.1, 300 steps; the reference returns the
iterate one step after the best-scoring one, this returns the best-scoring one). The
observation points may be any subset of the domain, e.g. 2% of the grid.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from opjax.models.phirom import PhiROM, latent_rollout


def uniform_grid(low, high, shape) -> np.ndarray:
    """``[*shape, d]``: the nodes ``linspace(low_i, high_i, shape_i)`` along each axis ``i``
    (both ends included), axis ``i`` of the grid being array axis ``i``."""
    axes = [np.linspace(lo, hi, n) for lo, hi, n in zip(low, high, shape, strict=True)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)


def observed_points(snapshots: jax.Array, n_points: int, n_observed: int) -> jax.Array:
    """The points a sparsely observed snapshot is known at, ``[S, n_observed]`` (flat grid
    indices) for snapshot ids ``snapshots [S]``: a random set that depends on the id only."""
    key = jax.random.PRNGKey(0x0B5E)
    draw = lambda i: jax.random.uniform(jax.random.fold_in(key, i), (n_points,))  # noqa: E731
    return jax.lax.top_k(jax.vmap(draw)(snapshots), n_observed)[1]


@functools.partial(jax.jit, static_argnames=("model", "steps"))
def fit_initial_latent(
    model: PhiROM,
    variables: dict,
    coords: jax.Array,
    values: jax.Array,
    steps: int = 300,
    learning_rate: float = 0.1,
) -> jax.Array:
    """The latents ``[B, k]`` that decode to ``values [B, M, C]`` at ``coords [B, M, d]``
    (each sample its own fit; Adam is elementwise, so one Adam on the sum is the same)."""
    optimizer = optax.adam(learning_rate)

    def misfit(latent):  # [B]
        decoded = model.apply(variables, coords, latent, method=PhiROM.decode)
        return jnp.mean((decoded - values) ** 2, axis=(1, 2))

    def total_misfit(latent):
        losses = misfit(latent)
        return jnp.sum(losses), losses

    def step(carry, _):
        latent, opt_state, best, best_misfit = carry
        (_, losses), grad = jax.value_and_grad(total_misfit, has_aux=True)(latent)
        better = losses < best_misfit
        best = jnp.where(better[:, None], latent, best)
        best_misfit = jnp.where(better, losses, best_misfit)
        updates, opt_state = optimizer.update(grad, opt_state)
        return (optax.apply_updates(latent, updates), opt_state, best, best_misfit), None

    latent = jnp.zeros((values.shape[0], model.latent_dim), values.dtype)
    start = (latent, optimizer.init(latent), latent, jnp.full(values.shape[:1], jnp.inf))
    (latent, _, best, best_misfit), _ = jax.lax.scan(step, start, None, length=steps)
    return jnp.where((misfit(latent) < best_misfit)[:, None], latent, best)


@functools.partial(jax.jit, static_argnames=("model",))
def decoded_trajectory(
    model: PhiROM,
    variables: dict,
    latent0: jax.Array,
    times: jax.Array,
    coords: jax.Array,
    z: jax.Array | None = None,
) -> jax.Array:
    """``[B, T, *points, C]``: the latent ODE from ``latent0 [B, k]`` at ``times[0]``
    (:func:`~opjax.models.latent_rollout`, the model's solver at the data step), decoded at
    ``coords [B, *points, d]`` at every one of ``times [T]``."""
    latents = latent_rollout(model, variables, latent0, times, z)  # [B, T, k]
    b, t = latents.shape[:2]
    repeated = jnp.repeat(coords, t, axis=0)
    decoded = model.apply(variables, repeated, latents.reshape(b * t, -1), method=PhiROM.decode)
    return decoded.reshape(b, t, *decoded.shape[1:])
