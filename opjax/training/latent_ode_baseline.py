"""The data-only baseline of Phi-ROM's comparison: DINo-style latent dynamics fitted to the
auto-decoded trajectories (Yin et al. 2023, as Phi-ROM's ``DINOTrainer`` runs it).

For a batch of trajectories ``u [B, T, *space, C]`` with latents ``alpha*_t [B, T, k]``
(rows of the model's latent memory) saved at ``times [T]``:

* ``L_rec = mean_{b, t, x, c} ((D(x, alpha*_t) - u) / sigma_c)^2``: the decoder's mean
  squared error in its own normalised units (``sigma_c``: the model's ``field_std``); it
  trains the decoder and the latents;
* ``L_dyn = mean_{b, t, j} (alpha_hat_t - sg(alpha*_t))_j^2``, ``alpha_hat_0 = alpha*_0`` and
  ``alpha_hat_{t+1}`` one step of the model's ODE solver (Bosh3) over ``times[t + 1] -
  times[t]`` from ``alpha*_t`` where the teacher-forcing mask is set, else from
  ``alpha_hat_t``; it trains the dynamics network only (``sg``: stop-gradient);
* ``loss = L_rec + L_dyn``.

The mask is drawn per step and shared across the batch, ``mask_0`` set, each later entry
true with probability ``p = p_0 r^floor(epoch / every)``, and ``p = 0`` once it falls
below ``1e-3`` (the reference: ``p_0 = 0.99``, ``r = 0.99``, every 20 epochs).

Unlike the reference, which makes three sequential updates per step with three Adams
(latents lr 1e-3, then the decoder lr 1e-2 on the updated latents, then the dynamics lr
1e-3), this objective is one loss for the trainer's one optimiser, so that the baseline
and Phi-ROM share the optimiser, its schedule and the budget: the two terms have disjoint
parameters, so each part still sees only its own term's gradient.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from opjax.models.layers.pointwise import broadcast_channels
from opjax.models.phirom import PhiROM, latent_step
from opjax.training.objectives import Objective


def teacher_forcing_probability(
    epoch: jax.Array, start: float = 0.99, rate: float = 0.99, every: int = 20
) -> jax.Array:
    """``p = start rate^floor(epoch / every)``, 0 once below ``1e-3``."""
    p = start * rate ** jnp.floor_divide(epoch, every).astype(jnp.float32)
    return jnp.where(p < 1e-3, 0.0, p)


def latent_unroll(
    model: PhiROM,
    variables: dict,
    latents: jax.Array,
    times: jax.Array,
    mask: jax.Array,
    params: jax.Array | None = None,
) -> jax.Array:
    """``alpha_hat [B, T, k]`` from ``latents [B, T, k]`` saved at ``times [T]``, one solver
    step per interval, restarting from the data latent where ``mask [T]`` is set."""

    def interval(previous, inputs):
        latent, forced, dt = inputs
        start = jnp.where(forced, latent, previous)
        following = latent_step(model, variables, start, dt, params)
        return following, following

    steps = (jnp.swapaxes(latents[:, :-1], 0, 1), mask[:-1], jnp.diff(times))
    _, later = jax.lax.scan(interval, latents[:, 0], steps)
    return jnp.concatenate([latents[:, :1], jnp.swapaxes(later, 0, 1)], axis=1)


def latent_ode_objective(
    model: PhiROM,
    coords: jax.Array,
    times: jax.Array,
    steps_per_epoch: int,
    *,
    teacher_forcing: float = 0.99,
    teacher_forcing_decay: float = 0.99,
    teacher_forcing_every: int = 20,
) -> Objective:
    """The baseline's objective (module docstring) for trajectories on ``coords
    [*space, d]`` saved at ``times [T]``; the batch is as for
    :func:`~opjax.training.reduced_order.physics_informed_objective`."""
    times = jnp.asarray(times)

    def objective(variables, batch, rng):
        y = batch["y"]
        b, t = y.shape[:2]
        if t != times.shape[0]:
            raise ValueError(f"the batch has {t} states per trajectory; times has {times.shape}")
        latents = variables["params"]["latent_memory"][batch["index"]]
        flat = coords.reshape(1, -1, coords.shape[-1])
        grid = jnp.broadcast_to(flat, (b * t, *flat.shape[1:]))
        u_hat = model.apply(variables, grid, latents.reshape(b * t, -1), method=PhiROM.decode)
        scale = jnp.asarray(model.field_std or (1.0,) * model.out_channels, y.dtype)
        error = (u_hat - y.reshape(b * t, -1, y.shape[-1])) / broadcast_channels(scale, 3)
        weight = batch["weight"]
        total = jnp.maximum(jnp.sum(weight), 1.0)
        reconstruction = jnp.sum(jnp.mean(error**2, axis=(1, 2)) * jnp.repeat(weight, t)) / (
            t * total
        )

        epoch = batch["step"] // steps_per_epoch
        p = teacher_forcing_probability(
            epoch, teacher_forcing, teacher_forcing_decay, teacher_forcing_every
        )
        mask = (jax.random.uniform(rng, (t,)) < p).at[0].set(True)
        target = jax.lax.stop_gradient(latents)
        unrolled = latent_unroll(model, variables, target, times, mask, batch.get("params"))
        dynamics = jnp.sum(jnp.mean((unrolled - target) ** 2, axis=(1, 2)) * weight) / total
        return reconstruction + dynamics, {}

    return objective
