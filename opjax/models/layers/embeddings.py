"""Embeddings of scalar conditioning inputs (diffusion time, lead time, PDE parameters).

A scalar ``s`` per sample becomes a vector in two steps:

* :func:`sinusoidal_embedding`: ``[cos(s w_0), ..., cos(s w_{h-1}), sin(s w_0), ...,
  sin(s w_{h-1})]`` with ``h = dim // 2`` and ``w_j = max_period^(-j / h)``, frequencies from 1
  down to nearly ``1 / max_period`` (the transformer position encoding; DDPM's timestep
  embedding; pdearena's ``fourier_embedding``, cosines first). An odd ``dim`` gets one
  trailing zero.
* :class:`ScalarEmbedding`: that vector through ``Linear -> activation -> Linear``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from opjax.models.layers.activations import gelu
from opjax.models.layers.pointwise import PointwiseLinear


def sinusoidal_frequencies(dim: int, max_period: float = 10_000.0) -> np.ndarray:
    """The ``dim // 2`` angular frequencies ``max_period^(-j / (dim // 2))``, float64."""
    half = dim // 2
    return np.exp(-math.log(max_period) * np.arange(half, dtype=np.float64) / half)


def sinusoidal_embedding(s: jax.Array, dim: int, max_period: float = 10_000.0) -> jax.Array:
    """``[batch] -> [batch, dim]``: cosines of ``s w_j``, then sines, then a zero if odd.

    The result is float32 unless ``s`` is float64 (integer ``s`` is promoted to float32).
    """
    s = jnp.asarray(s)
    if s.ndim != 1:
        raise ValueError(f"sinusoidal_embedding expects a vector [batch]; got shape {s.shape}")
    dtype = s.dtype if jnp.issubdtype(s.dtype, jnp.floating) else jnp.float32
    freqs = jnp.asarray(sinusoidal_frequencies(dim, max_period), dtype)
    args = s.astype(dtype)[:, None] * freqs[None, :]
    parts = [jnp.cos(args), jnp.sin(args)]
    if dim % 2:
        parts.append(jnp.zeros((s.shape[0], 1), dtype))
    return jnp.concatenate(parts, axis=-1)


class ScalarEmbedding(nn.Module):
    """``[batch] -> [batch, features]``: sinusoidal embedding, then a two-layer MLP.

    ``Linear(fourier_dim -> features) -> activation -> Linear(features -> features)``, both
    layers with PyTorch's default initialisation (as pdearena's ``time_embed``/``pde_emb``).

    Attributes:
        fourier_dim: width of the sinusoidal embedding.
        features: width of the MLP and of the output.
        activation: the nonlinearity between the two layers (default: exact GELU).
        max_period: slowest period of the sinusoids.
    """

    fourier_dim: int
    features: int
    activation: Callable[[jax.Array], jax.Array] = gelu
    max_period: float = 10_000.0

    @nn.compact
    def __call__(self, s: jax.Array) -> jax.Array:
        h = sinusoidal_embedding(s, self.fourier_dim, self.max_period)
        h = PointwiseLinear(self.features, name="fc0")(h)
        return PointwiseLinear(self.features, name="fc1")(self.activation(h))
