"""Patch-level resampling of Poseidon's scOT (channels-last, ``[batch, H, W, C]``).

* :class:`PatchEmbeddings`: ``p x p`` patches -> tokens, ``Conv(p, stride p)`` then a norm.
* :class:`PatchMerging`: ``[b, H, W, C] -> [b, H/2, W/2, 2C]``: the 2x2 neighbours
  ``x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2]`` concatenated in that order
  on the channel axis, a bias-free ``Linear(4C, 2C)`` (``reduction``), then ``norm``.
* :class:`PatchUnmerging`: ``[b, H, W, C] -> [b, 2H, 2W, C/2]``: a bias-free
  ``Linear(C, 2C)`` (``upsample``), whose output read as ``[2, 2, C/2]`` per token is
  ``(row offset, column offset, channel)``; then ``norm`` and a bias-free
  ``Linear(C/2, C/2)`` (``mixup``).
* :class:`PatchRecovery`: tokens -> ``p x p`` pixels by a transposed convolution with
  kernel = stride = ``p`` (``projection``, equivalently a linear map of every token to its
  ``p x p x C_out`` block), then a bias-free ``5 x 5`` convolution with zero padding 2
  (``mixup``).

Norms are :func:`~opjax.models.layers.conditional_layer_norm.time_layer_norm` with the
reference's fixed epsilon 1e-5; module names mirror the reference.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from opjax.models.layers.conditional_layer_norm import normal_002, time_layer_norm
from opjax.models.layers.pointwise import torch_uniform

PATCH_NORM_EPS = 1e-5


def _dense(features: int, name: str, bias: bool = True) -> nn.Dense:
    return nn.Dense(
        features,
        use_bias=bias,
        kernel_init=normal_002,
        bias_init=nn.initializers.zeros,
        name=name,
    )


class _PatchConv(nn.Module):
    """``projection``: ``Conv(p x p, stride p)`` from pixels to ``features`` channels."""

    features: int
    patch: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        conv = nn.Conv(
            self.features,
            (self.patch, self.patch),
            strides=(self.patch, self.patch),
            padding="VALID",
            kernel_init=normal_002,
            bias_init=nn.initializers.zeros,
            name="projection",
        )
        return conv(x)


class PatchEmbeddings(nn.Module):
    """``(x [b, H, W, C_in], t) -> [b, H/p, W/p, embed_dim]``: ``patch_embeddings``
    (``projection``) then ``norm``. ``H`` and ``W`` must be multiples of ``p``."""

    embed_dim: int
    patch: int
    conditioned: bool = True

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array | None) -> jax.Array:
        x = _PatchConv(self.embed_dim, self.patch, name="patch_embeddings")(x)
        return time_layer_norm(self.conditioned, PATCH_NORM_EPS, "norm")(x, t)


class PatchMerging(nn.Module):
    """``(x [b, H, W, C], t) -> [b, H/2, W/2, 2C]`` (``H``, ``W`` even)."""

    conditioned: bool = True

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array | None) -> jax.Array:
        c = x.shape[-1]
        x = jnp.concatenate(
            [x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], axis=-1
        )
        x = _dense(2 * c, "reduction", bias=False)(x)
        return time_layer_norm(self.conditioned, PATCH_NORM_EPS, "norm")(x, t)


class PatchUnmerging(nn.Module):
    """``(x [b, H, W, C], t) -> [b, 2H, 2W, C/2]`` (``C`` even)."""

    conditioned: bool = True

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array | None) -> jax.Array:
        b, h, w, c = x.shape
        x = _dense(2 * c, "upsample", bias=False)(x)
        x = x.reshape(b, h, w, 2, 2, c // 2).transpose(0, 1, 3, 2, 4, 5)
        x = x.reshape(b, 2 * h, 2 * w, c // 2)
        x = time_layer_norm(self.conditioned, PATCH_NORM_EPS, "norm")(x, t)
        return _dense(c // 2, "mixup", bias=False)(x)


class _PatchExpand(nn.Module):
    """``[b, H, W, C] -> [b, pH, pW, features]``: the transposed convolution with kernel
    = stride = ``p``, ``y[p h + i, p w + j, o] = sum_c x[h, w, c] K[i, j, c, o] + b[o]``.

    Parameters ``kernel [p, p, C, features]`` and ``bias [features]``, initialised as
    PyTorch's ``ConvTranspose2d`` (uniform, bound ``1/sqrt(features p^2)``)."""

    features: int
    patch: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        b, h, w, c = x.shape
        p = self.patch
        init = torch_uniform(self.features * p * p)
        kernel = self.param("kernel", init, (p, p, c, self.features))
        bias = self.param("bias", init, (self.features,))
        y = jnp.einsum("bhwc,ijco->bhiwjo", x, kernel.astype(x.dtype))
        y = y.reshape(b, h * p, w * p, self.features)
        return y + bias.reshape(1, 1, 1, -1).astype(y.dtype)


class PatchRecovery(nn.Module):
    """``[b, H, W, C] -> [b, pH, pW, out_channels]``: ``projection`` then ``mixup``."""

    out_channels: int
    patch: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        y = _PatchExpand(self.out_channels, self.patch, name="projection")(x)
        mixup = nn.Conv(
            self.out_channels,
            (5, 5),
            padding=((2, 2), (2, 2)),
            use_bias=False,
            kernel_init=normal_002,
            name="mixup",
        )
        return mixup(y)
