"""Autoregressive rollouts of a one-step model, as one ``lax.scan``.

A model trained on ``k``-in / 1-out windows (:func:`opjax.data.windowing.k_in_m_out`) maps
the last ``k`` states, stacked as channels ``[b, *space, k c]`` (oldest first), to the next
state ``[b, *space, c]``. A rollout feeds its predictions back:

    window_0 = x,   u_{n+1} = model(window_n),   window_{n+1} = [window_n without its
    oldest state, u_{n+1}],

and returns ``[b, n_steps, *space, c]``. Normalisation is applied inside each step, so the
rollout runs in physical units, exactly as :meth:`opjax.runs.LoadedRun.predict` would.

A stochastic model (PDE-Refiner, whose refinement draws noise) rolls out deterministically
with its default noise, or as several independent samples (:func:`make_sampled_rollout`).

A time-conditioned model (scOT, trained on all2all pairs) maps a state and a lead time
``t`` to the state ``t`` later. It predicts any lead time in one call
(:meth:`opjax.runs.LoadedRun.predict` with ``t``), or rolls out autoregressively with a
fixed lead time per step, ``u_{n+1} = model(u_n, dt)`` (:func:`make_time_rollout`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from opjax.data.normalizers import Normalizers


def _advance(model: nn.Module, params, normalizers: Normalizers, window, z=None, **kwargs):
    """One rollout step: ``(next window, predicted state)``; ``z`` (PDE parameters, when
    not None) and ``kwargs`` go to ``apply``."""
    if z is not None:
        kwargs["z"] = z
    state = normalizers.decode_output(
        model.apply(params, normalizers.encode_input(window), **kwargs)
    )
    channels = state.shape[-1]
    if window.shape[-1] % channels:
        raise ValueError(
            f"the model maps {window.shape[-1]} input channels to {channels} output "
            "channels; a rollout needs k states of the output's channels as input"
        )
    return jnp.concatenate([window[..., channels:], state], axis=-1), state


@functools.partial(jax.jit, static_argnames=("model", "n_steps"))
def _rollout(model: nn.Module, params, normalizers: Normalizers, x, n_steps: int, z=None):
    def step(window, _):
        return _advance(model, params, normalizers, window, z)

    _, states = jax.lax.scan(step, x, None, length=n_steps)
    return jnp.moveaxis(states, 0, 1)


def make_rollout(model: nn.Module, normalizers: Normalizers) -> Callable:
    """``rollout(params, x [b, *space, k c], n_steps, z=None) -> [b, n_steps, *space, c]``,
    jitted (compiled once per model, input shape and length); ``z [b, n_params]``: the
    trajectories' PDE parameters, the same at every step."""

    def rollout(params, x, n_steps: int, z=None):
        return _rollout(model, params, normalizers, jnp.asarray(x), n_steps, z)

    return rollout


@functools.partial(jax.jit, static_argnames=("model", "n_steps", "n_samples", "rng_stream"))
def _sampled_rollouts(
    model: nn.Module, params, normalizers: Normalizers, x, key, n_steps, n_samples, rng_stream, z
):
    def one(sample_key):
        def step(window, step_key):
            return _advance(model, params, normalizers, window, z, rngs={rng_stream: step_key})

        _, states = jax.lax.scan(step, x, jax.random.split(sample_key, n_steps))
        return jnp.moveaxis(states, 0, 1)

    return jax.vmap(one)(jax.random.split(key, n_samples))


def make_sampled_rollout(
    model: nn.Module, normalizers: Normalizers, rng_stream: str = "refine"
) -> Callable:
    """``rollout(params, x [b, *space, k c], n_steps, key, n_samples, z=None) ->
    [n_samples, b, n_steps, *space, c]``: independent rollouts of a stochastic one-step model
    (PDE-Refiner: the noise of its refinement steps, RNG stream ``"refine"``), each step with
    its own key from ``key``; jitted. The samples' spread
    (:mod:`opjax.metrics.uncertainty`) estimates the rollout's uncertainty."""

    def rollout(params, x, n_steps: int, key: jax.Array, n_samples: int, z=None):
        return _sampled_rollouts(
            model, params, normalizers, jnp.asarray(x), key, n_steps, n_samples, rng_stream, z
        )

    return rollout


@functools.partial(jax.jit, static_argnames=("model", "n_steps"))
def _time_rollout(model: nn.Module, params, normalizers: Normalizers, x, dt, n_steps: int):
    t = jnp.full(x.shape[:1], dt, jnp.float32)

    def step(state, _):
        state = normalizers.decode_output(model.apply(params, normalizers.encode_input(state), t=t))
        return state, state

    _, states = jax.lax.scan(step, x, None, length=n_steps)
    return jnp.moveaxis(states, 0, 1)


def make_time_rollout(model: nn.Module, normalizers: Normalizers) -> Callable:
    """``rollout(params, x [b, *space, c], dt, n_steps) -> [b, n_steps, *space, c]``: the
    states ``dt, 2 dt, ...`` after ``x``, each predicted from the previous one with lead
    time ``dt`` (in the model's time units), as one ``lax.scan``, jitted."""

    def rollout(params, x, dt: float, n_steps: int):
        x = jnp.asarray(x)
        out = jax.eval_shape(lambda: model.apply(params, x[:1], t=jnp.zeros((1,))))
        if out.shape[-1] != x.shape[-1]:
            raise ValueError(
                f"the model maps {x.shape[-1]} to {out.shape[-1]} channels; an "
                "autoregressive rollout needs as many output channels as input channels"
            )
        return _time_rollout(model, params, normalizers, x, jnp.float32(dt), n_steps)

    return rollout
