"""DINo's decoder: a multiplicative filter network whose layers the latent code shifts.

Yin et al., "Continuous PDE Dynamics Forecasting with Implicit Neural Representations"
(ICLR 2023), as Phi-ROM uses it. At a point ``x [d]`` with latent ``alpha [k]``, ``L``
layers of width ``W`` (even):

    g_i(x) = [sin(x Omega_i), cos(x Omega_i)]                  Fourier filters, [W]
    h_0 = (A_0 alpha + b_0) * g_0(x)
    h_i = (W_i h_{i-1} + b_i + A_i alpha) * g_i(x),   i = 1 .. L-1
    u(x) = W_out h_{L-1} + b_out                                [out_channels]

The latent enters only as the additive shifts ``A_i alpha`` (no bias); the filters
``Omega_i [d, W/2]`` are trained, drawn from He's uniform ``U(+-sqrt(6 / d))``. Hidden
kernels ``W_i`` are He-uniform too, ``A_i``, the biases and the output layer PyTorch-uniform
(``U(+-1 / sqrt(fan_in))``; ``b_0``: ``fan_in = d``), as in Phi-ROM's reference.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from opjax.models.layers.activations import cosine, sine
from opjax.models.layers.pointwise import PointwiseLinear, broadcast_channels, torch_uniform


class HyperDecoder(nn.Module):
    """``(coords [..., N, d], latent [..., k]) -> [..., N, out_channels]``.

    Attributes:
        out_channels: channels of the decoded field.
        width: hidden width ``W`` (even).
        depth: filter layers ``L``.
    """

    out_channels: int
    width: int = 64
    depth: int = 3

    @nn.compact
    def __call__(self, coords: jax.Array, latent: jax.Array) -> jax.Array:
        if self.width % 2:
            raise ValueError(f"HyperDecoder's width must be even; got {self.width}")
        d = coords.shape[-1]
        latent = latent[..., None, :].astype(coords.dtype)  # one latent for all N points

        def fourier_filter(i):
            omega = self.param(f"filter_{i}", torch_uniform(d / 6), (d, self.width // 2))
            # x Omega as d broadcast products (d is 1 to 3): XLA's CPU compiler runs the
            # gradient of a matrix product with such a short side far slower than this sum.
            omega = omega.astype(coords.dtype)
            z = sum(
                coords[..., j, None] * broadcast_channels(omega[j], coords.ndim) for j in range(d)
            )
            return jnp.concatenate([sine(z), cosine(z)], axis=-1)

        def shift(i):
            return PointwiseLinear(self.width, use_bias=False, name=f"shift_{i}")(latent)

        bias = self.param("bias_0", torch_uniform(d), (self.width,))
        h = (
            shift(0) + broadcast_channels(bias.astype(coords.dtype), latent.ndim)
        ) * fourier_filter(0)
        for i in range(1, self.depth):
            layer = PointwiseLinear(self.width, kernel_gain=math.sqrt(6), name=f"layer_{i}")
            h = (layer(h) + shift(i)) * fourier_filter(i)
        return PointwiseLinear(self.out_channels, name="output")(h)
