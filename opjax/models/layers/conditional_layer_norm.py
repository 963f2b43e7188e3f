"""Layer normalisation whose scale and shift are affine functions of a scalar lead time
(Poseidon's ``ConditionalLayerNorm``, Herde et al., "Poseidon: Efficient Foundation
Models for PDEs", 2024).

For features ``x [batch, ..., C]`` and lead times ``t [batch]``:

    mu = E[x],  var = E[x^2] - E[x]^2           (over the channel axis)
    x_hat = (x - mu) / sqrt(var + eps)
    y = gamma(t) * x_hat + beta(t),   gamma(t) = t w_g + b_g,  beta(t) = t w_b + b_b

with ``gamma`` and ``beta`` two ``Dense(1 -> C)`` submodules named ``weight`` and ``bias``
(the reference's ``nn.Linear(1, dim)`` modules of the same names), broadcast over every
non-batch, non-channel axis. The variance is the one-pass ``E[x^2] - E[x]^2`` of the
reference, not the two-pass form of ``torch.nn.LayerNorm``.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

#: The initialisation of Poseidon's linear and convolution layers (``_init_weights``).
normal_002 = nn.initializers.normal(0.02)


class ConditionalLayerNorm(nn.Module):
    """``(x [batch, ..., C], t [batch]) -> [batch, ..., C]``, see the module docstring.

    Attributes:
        epsilon: added to the variance.
    """

    epsilon: float = 1e-5

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array) -> jax.Array:
        channels = x.shape[-1]
        mean = jnp.mean(x, axis=-1, keepdims=True)
        var = jnp.mean(x**2, axis=-1, keepdims=True) - mean**2
        x_hat = (x - mean) / jnp.sqrt(var + self.epsilon)
        time = jnp.reshape(t, (-1, 1)).astype(x.dtype)
        dense = dict(features=channels, kernel_init=normal_002, bias_init=nn.initializers.zeros)
        gamma = nn.Dense(**dense, name="weight")(time)
        beta = nn.Dense(**dense, name="bias")(time)
        shape = (gamma.shape[0],) + (1,) * (x.ndim - 2) + (channels,)
        return gamma.reshape(shape) * x_hat + beta.reshape(shape)


def time_layer_norm(
    conditioned: bool, epsilon: float, name: str
) -> Callable[[jax.Array, jax.Array | None], jax.Array]:
    """The norm scOT uses everywhere, called as ``norm(x, t)``.

    ``conditioned``: a :class:`ConditionalLayerNorm`; otherwise a ``flax`` ``LayerNorm``
    (two-pass variance, as ``torch.nn.LayerNorm``; parameters ``scale``, ``bias``) that
    ignores ``t``. Call it inside a compact method: the module is bound to the caller.
    """
    if conditioned:
        return ConditionalLayerNorm(epsilon, name=name)
    norm = nn.LayerNorm(epsilon=epsilon, use_fast_variance=False, name=name)
    return lambda x, t: norm(x)
