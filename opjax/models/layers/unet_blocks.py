"""Convolutional U-Net blocks in any spatial rank, channels-last ``[batch, *space, c]``.

These are the classic U-Net blocks (Ronneberger et al. 2015, in the form of the popular
``Pytorch-UNet``) that the Latent Spectral Model uses as its multiscale backbone:

* :class:`DoubleConv`: ``(conv 3^d, no bias -> BatchNorm -> ReLU) x 2``;
* :class:`Down`: ``2^d`` max pooling (floor) then a :class:`DoubleConv`;
* :class:`Up`: multilinear upsampling by 2 with aligned corners, zero padding to the skip
  connection's size, concatenation ``[skip, upsampled]`` on channels, then a
  :class:`DoubleConv` whose middle width is half its input width.

Initialisation follows PyTorch's defaults (``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` for
convolutions, unit scale and zero shift for batch norm).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from opjax.models.layers.pointwise import broadcast_channels, torch_uniform


class BatchNorm(nn.Module):
    """Batch normalisation over every axis but the last, with PyTorch's semantics.

    ``y = (x - mu) / sqrt(var + eps) * scale + bias`` per channel. With ``train=True``,
    ``mu`` and ``var`` (biased) are the statistics of the batch, and the running averages in
    the ``batch_stats`` collection move as ``r <- (1 - momentum) r + momentum s`` (the
    variance with Bessel's correction), so ``apply`` must be given
    ``mutable=["batch_stats"]``. With ``train=False`` the running averages are used.

    Parameters: ``scale [c]`` (ones), ``bias [c]`` (zeros); state: ``batch_stats/mean [c]``
    (zeros), ``batch_stats/var [c]`` (ones).
    """

    momentum: float = 0.1
    epsilon: float = 1e-5

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        c = x.shape[-1]
        scale = self.param("scale", nn.initializers.ones, (c,))
        bias = self.param("bias", nn.initializers.zeros, (c,))
        running_mean = self.variable("batch_stats", "mean", jnp.zeros, (c,), jnp.float32)
        running_var = self.variable("batch_stats", "var", jnp.ones, (c,), jnp.float32)
        if train:
            axes = tuple(range(x.ndim - 1))
            mean = jnp.mean(x, axis=axes)
            var = jnp.mean(jnp.square(x - broadcast_channels(mean, x.ndim)), axis=axes)
            if not self.is_initializing():
                if not self.is_mutable_collection("batch_stats"):
                    raise ValueError(
                        f"BatchNorm {'/'.join(self.scope.path)} in training mode updates its "
                        "running statistics: call apply(..., train=True, "
                        "mutable=['batch_stats'])"
                    )
                n = x.size // c
                unbiased = var * (n / max(n - 1, 1))
                m = self.momentum
                running_mean.value = (1 - m) * running_mean.value + m * mean.astype(jnp.float32)
                running_var.value = (1 - m) * running_var.value + m * unbiased.astype(jnp.float32)
        else:
            mean = running_mean.value.astype(x.dtype)
            var = running_var.value.astype(x.dtype)
        factor = scale.astype(x.dtype) * jax.lax.rsqrt(var + self.epsilon)
        shift = bias.astype(x.dtype) - mean * factor
        return x * broadcast_channels(factor, x.ndim) + broadcast_channels(shift, x.ndim)


def conv3(features: int, in_channels: int, rank: int, name: str) -> nn.Conv:
    """``3^d`` convolution with zero padding 1 and no bias, PyTorch-initialised."""
    return nn.Conv(
        features,
        kernel_size=(3,) * rank,
        padding=[(1, 1)] * rank,
        use_bias=False,
        kernel_init=torch_uniform(in_channels * 3**rank),
        name=name,
    )


class DoubleConv(nn.Module):
    """``[batch, *space, in] -> [batch, *space, features]``: two conv-BN-ReLU stages.

    The first stage maps to ``mid_features`` channels (``features`` when 0).
    Parameters: ``conv1/kernel [3]*d + [in, mid]``, ``norm1``, ``conv2/kernel
    [3]*d + [mid, features]``, ``norm2``.
    """

    features: int
    mid_features: int = 0

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        rank = x.ndim - 2
        mid = self.mid_features or self.features
        x = conv3(mid, x.shape[-1], rank, "conv1")(x)
        x = nn.relu(BatchNorm(name="norm1")(x, train))
        x = conv3(self.features, mid, rank, "conv2")(x)
        return nn.relu(BatchNorm(name="norm2")(x, train))


class Down(nn.Module):
    """``[batch, *n, in] -> [batch, *floor(n / 2), features]``: max pool by 2, DoubleConv."""

    features: int

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        rank = x.ndim - 2
        x = nn.max_pool(x, (2,) * rank, strides=(2,) * rank, padding="VALID")
        return DoubleConv(self.features, name="conv")(x, train)


def upsample_linear(x: jax.Array) -> jax.Array:
    """Multilinear upsampling by 2 with aligned corners, ``[b, *n, c] -> [b, *2n, c]``.

    Along an axis of ``n`` points, output point ``i`` of ``2n`` samples the input at
    ``s_i = i (n - 1) / (2n - 1)`` by linear interpolation between ``floor(s_i)`` and the
    next point, so the first and last points coincide with the input's (PyTorch's
    ``Upsample(scale_factor=2, mode="bilinear"/"trilinear", align_corners=True)``).
    """
    for axis in range(1, x.ndim - 1):
        n = x.shape[axis]
        if n == 1:
            x = jnp.repeat(x, 2, axis=axis)
            continue
        source = np.arange(2 * n, dtype=np.float64) * ((n - 1) / (2 * n - 1))
        lo = np.minimum(np.floor(source).astype(np.int32), n - 1)
        hi = np.minimum(lo + 1, n - 1)
        shape = [1] * x.ndim
        shape[axis] = 2 * n
        frac = jnp.asarray((source - lo).reshape(shape), x.dtype)
        x = (1 - frac) * jnp.take(x, lo, axis=axis) + frac * jnp.take(x, hi, axis=axis)
    return x


class Up(nn.Module):
    """Decoder step of the U-Net: ``(coarse [b, *m, c1], skip [b, *n, c2]) -> [b, *n, features]``.

    ``coarse`` is upsampled to ``2m`` (:func:`upsample_linear`), zero-padded to ``n``
    (``(n - 2m) // 2`` before, the rest after), concatenated after ``skip`` and passed
    through ``DoubleConv(features, mid_features=(c1 + c2) // 2)``.
    """

    features: int

    @nn.compact
    def __call__(self, coarse: jax.Array, skip: jax.Array, train: bool = False) -> jax.Array:
        up = upsample_linear(coarse)
        widths = [(0, 0)]
        for n_skip, n_up in zip(skip.shape[1:-1], up.shape[1:-1]):
            diff = n_skip - n_up
            widths.append((diff // 2, diff - diff // 2))
        widths.append((0, 0))
        if any(w != (0, 0) for w in widths):
            up = jnp.pad(up, widths)
        x = jnp.concatenate([skip, up], axis=-1)
        return DoubleConv(self.features, x.shape[-1] // 2, name="conv")(x, train)
