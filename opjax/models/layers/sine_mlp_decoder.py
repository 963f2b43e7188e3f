"""A coordinate MLP decoder: ``u(x) = MLP([x, alpha])`` with sine activations.

Phi-ROM's decoder for 1D Burgers: ``depth`` hidden layers of width ``W``, each
``h <- sin(W_i h + b_i)`` (no frequency factor, PyTorch-uniform initialisation
``U(+-1 / sqrt(fan_in))``), on the coordinates concatenated with the latent, then a linear
output layer.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from opjax.models.layers.activations import sine
from opjax.models.layers.pointwise import PointwiseLinear


class SineMLPDecoder(nn.Module):
    """``(coords [..., N, d], latent [..., k]) -> [..., N, out_channels]``.

    Attributes:
        out_channels: channels of the decoded field.
        width: hidden width.
        depth: hidden layers.
    """

    out_channels: int
    width: int = 32
    depth: int = 4

    @nn.compact
    def __call__(self, coords: jax.Array, latent: jax.Array) -> jax.Array:
        latent = jnp.broadcast_to(
            latent[..., None, :].astype(coords.dtype), (*coords.shape[:-1], latent.shape[-1])
        )
        h = jnp.concatenate([coords, latent], axis=-1)
        for i in range(self.depth):
            h = sine(PointwiseLinear(self.width, name=f"layer_{i}")(h))
        return PointwiseLinear(self.out_channels, name="output")(h)
