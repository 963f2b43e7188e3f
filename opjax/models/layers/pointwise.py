"""Pointwise (1x1) layers acting on the channel axis of channels-last fields.

Initialisation follows PyTorch's ``Conv1d``/``Linear`` defaults, which neuraloperator's
models use: kernel and bias uniform in ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from opjax.models.layers.activations import gelu


def torch_uniform(fan_in: int) -> Callable:
    """Initializer ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``."""
    bound = 1.0 / math.sqrt(fan_in)

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


def broadcast_channels(v: jax.Array, ndim: int) -> jax.Array:
    """Reshape a per-channel vector ``[c]`` to ``[1, ..., 1, c]`` of rank ``ndim``."""
    return v.reshape((1,) * (ndim - 1) + (-1,))


def channel_matmul(x: jax.Array, matrix: jax.Array) -> jax.Array:
    """``[..., in] x [in, out] -> [..., out]`` as one ``[points, in] x [in, out]`` GEMM.

    XLA's CPU backend runs this plain matrix product (and its transposes in the backward
    pass) faster than a dot with batch axes.
    """
    flat = x.reshape(-1, x.shape[-1]) @ matrix.astype(x.dtype)
    return flat.reshape(*x.shape[:-1], matrix.shape[-1])


class PointwiseLinear(nn.Module):
    """``[..., in] -> [..., features]``: ``y = x W + b`` at every grid point.

    ``W`` is drawn from ``U(-g / sqrt(fan_in), g / sqrt(fan_in))`` with ``g = kernel_gain``
    (1: PyTorch's default; ``sqrt(6)``: He's uniform initialisation), ``b`` with ``g = 1``.
    """

    features: int
    use_bias: bool = True
    kernel_gain: float = 1.0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        fan_in = x.shape[-1]
        kernel_init = torch_uniform(fan_in / self.kernel_gain**2)
        kernel = self.param("kernel", kernel_init, (fan_in, self.features))
        y = channel_matmul(x, kernel)
        if self.use_bias:
            bias = self.param("bias", torch_uniform(fan_in), (self.features,))
            y = y + broadcast_channels(bias.astype(y.dtype), y.ndim)
        return y


class ChannelMLP(nn.Module):
    """Two pointwise linear layers with a nonlinearity (default: exact GELU) between them.

    ``[..., in] -> [..., hidden_channels] -> [..., out_channels]``; the output is linear.
    """

    hidden_channels: int
    out_channels: int
    activation: Callable[[jax.Array], jax.Array] = gelu

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = PointwiseLinear(self.hidden_channels, name="fc0")(x)
        x = self.activation(x)
        return PointwiseLinear(self.out_channels, name="fc1")(x)


class SoftGating(nn.Module):
    """Per-channel scaling ``y = w * x`` with ``w`` initialised to one (neuraloperator's
    soft-gating skip), as an elementwise product: on the 64x64 FNO of
    ``evaluation/speed/fno_vs_neuralop.py`` that is cheaper than a product with
    ``diag(w)`` (about 8% of its train step)."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        channels = x.shape[-1]
        weight = self.param("weight", nn.initializers.ones, (channels,))
        return x * broadcast_channels(weight.astype(x.dtype), x.ndim)
