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


def _linear_plus_gated_skip_as_sum(x, kernel, bias, skip, gate):
    y = channel_matmul(x, kernel) + broadcast_channels(bias.astype(x.dtype), x.ndim)
    return y + skip * broadcast_channels(gate.astype(skip.dtype), skip.ndim)


@jax.custom_vjp
def linear_plus_gated_skip(
    x: jax.Array, kernel: jax.Array, bias: jax.Array, skip: jax.Array, gate: jax.Array
) -> jax.Array:
    """``y = x W + b + g * v``: a pointwise linear layer plus a soft-gated skip.

    Shapes: ``x [..., in]``, ``W [in, out]``, ``b [out]``, ``v [..., out]``, ``g [out]``
    -> ``y [..., out]``.

    Evaluated as one product ``[x, v] [[W], [diag g]] + b``, so that ``y`` is the output
    of a matrix product. As an elementwise ``g * v`` the gate lets XLA's CPU compiler fuse
    ``v``, and whatever elementwise work produced ``v``, into every consumer of ``y``: in
    a stack of FNO blocks, where each block's output is the next block's ``v``, it
    recomputed the whole residual chain back to the lifting layer in each block (on the
    64x64 FNO of ``evaluation/speed/fno_vs_neuralop.py``, the forward pass took about 27%
    less time with the product).

    Differentiated, the forward pass is the plain sum instead: there the backward pass
    keeps ``v`` in memory anyway, and the larger product would add its transposes to the
    backward pass. As with :func:`~opjax.models.layers.gelu` (a custom VJP too), only
    reverse-mode differentiation goes through it.
    """
    stacked = jnp.concatenate([x, skip.astype(x.dtype)], axis=-1)
    matrix = jnp.concatenate([kernel, jnp.diag(gate)], axis=0)
    return channel_matmul(stacked, matrix) + broadcast_channels(bias.astype(x.dtype), x.ndim)


def _linear_plus_gated_skip_forward(x, kernel, bias, skip, gate):
    inputs = (x, kernel, bias, skip, gate)
    return _linear_plus_gated_skip_as_sum(*inputs), inputs


def _linear_plus_gated_skip_backward(inputs, cotangent):
    return jax.vjp(_linear_plus_gated_skip_as_sum, *inputs)[1](cotangent)


linear_plus_gated_skip.defvjp(_linear_plus_gated_skip_forward, _linear_plus_gated_skip_backward)


class PointwiseLinear(nn.Module):
    """``[..., in] -> [..., features]``: ``y = x W + b`` at every grid point, or
    ``y = x W + b + g * v`` with a soft-gated skip ``gated_skip=(v, g)`` (see
    :func:`linear_plus_gated_skip`)."""

    features: int
    use_bias: bool = True

    @nn.compact
    def __call__(
        self, x: jax.Array, gated_skip: tuple[jax.Array, jax.Array] | None = None
    ) -> jax.Array:
        fan_in = x.shape[-1]
        kernel = self.param("kernel", torch_uniform(fan_in), (fan_in, self.features))
        bias = None
        if self.use_bias:
            bias = self.param("bias", torch_uniform(fan_in), (self.features,))
        if gated_skip is not None:
            skip, gate = gated_skip
            if bias is None:
                bias = jnp.zeros((self.features,), x.dtype)
            return linear_plus_gated_skip(x, kernel, bias, skip, gate)
        y = channel_matmul(x, kernel)
        if bias is not None:
            y = y + broadcast_channels(bias.astype(y.dtype), y.ndim)
        return y


class ChannelMLP(nn.Module):
    """Two pointwise linear layers with a nonlinearity (default: exact GELU) between them.

    ``[..., in] -> [..., hidden_channels] -> [..., out_channels]``; the output is linear,
    plus a soft-gated skip ``g * v`` if ``gated_skip=(v, g)`` is given.
    """

    hidden_channels: int
    out_channels: int
    activation: Callable[[jax.Array], jax.Array] = gelu

    @nn.compact
    def __call__(
        self, x: jax.Array, gated_skip: tuple[jax.Array, jax.Array] | None = None
    ) -> jax.Array:
        x = PointwiseLinear(self.hidden_channels, name="fc0")(x)
        x = self.activation(x)
        return PointwiseLinear(self.out_channels, name="fc1")(x, gated_skip)


class SoftGating(nn.Module):
    """Per-channel scaling ``y = w * x`` with ``w`` initialised to one (neuraloperator's
    soft-gating skip). ``weights(channels)`` gives ``w`` alone, for a skip added inside a
    linear layer (``PointwiseLinear(...)(h, gated_skip=(x, w))``)."""

    def __call__(self, x: jax.Array) -> jax.Array:
        weight = self.weights(x.shape[-1])
        return x * broadcast_channels(weight.astype(x.dtype), x.ndim)

    @nn.compact
    def weights(self, channels: int) -> jax.Array:
        """The per-channel weights ``w [channels]``."""
        return self.param("weight", nn.initializers.ones, (channels,))
