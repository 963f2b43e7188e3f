"""Autoregressive rollouts of a one-step model, as one ``lax.scan``.

A model trained on ``k``-in / 1-out windows (:func:`opjax.data.windowing.k_in_m_out`) maps
the last ``k`` states, stacked as channels ``[b, *space, k c]`` (oldest first), to the next
state ``[b, *space, c]``. A rollout feeds its predictions back:

    window_0 = x,   u_{n+1} = model(window_n),   window_{n+1} = [window_n without its
    oldest state, u_{n+1}],

and returns ``[b, n_steps, *space, c]``. Normalisation is applied inside each step, so the
rollout runs in physical units, exactly as :meth:`opjax.load.LoadedRun.predict` would.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from opjax.data.normalizers import Normalizers


@functools.partial(jax.jit, static_argnames=("model", "n_steps"))
def _rollout(model: nn.Module, params, normalizers: Normalizers, x, n_steps: int):
    def step(window, _):
        state = normalizers.decode_output(model.apply(params, normalizers.encode_input(window)))
        channels = state.shape[-1]
        if window.shape[-1] % channels:
            raise ValueError(
                f"the model maps {window.shape[-1]} input channels to {channels} output "
                "channels; a rollout needs k states of the output's channels as input"
            )
        window = jnp.concatenate([window[..., channels:], state], axis=-1)
        return window, state

    _, states = jax.lax.scan(step, x, None, length=n_steps)
    return jnp.moveaxis(states, 0, 1)


def make_rollout(model: nn.Module, normalizers: Normalizers) -> Callable:
    """``rollout(params, x [b, *space, k c], n_steps) -> [b, n_steps, *space, c]``, jitted
    (compiled once per model, input shape and length)."""

    def rollout(params, x, n_steps: int):
        return _rollout(model, params, normalizers, jnp.asarray(x), n_steps)

    return rollout
