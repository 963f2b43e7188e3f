"""Building blocks of the modern (wide-residual, conditioned) U-Net, channels-last, any rank.

The blocks follow pdearena's conditioned U-Net (``pdearena/modules/conditioned/oned_unet.py``,
itself after labml's annotated DDPM U-Net); fields are ``[batch, *space, channels]`` and the
spatial rank is read from the input.

* :class:`Conv`: ``kernel_size``-wide convolution with "same" padding (``kernel_size // 2`` cells
  per side, circular or zero), optional stride.
* :class:`Downsample`: 3-wide convolution with stride 2, ``n -> n / 2`` per axis.
* :class:`Upsample`: :class:`TransposedConv`, kernel 4, stride 2, padding 1, ``n -> 2 n``.
* :class:`ResidualBlock`: ``h = conv1(act(norm1(x)))``, conditioning, ``h = conv2(act(norm2(h)))``,
  ``x + h`` (with a 1x1 convolution on ``x`` when the width changes).
* :class:`AttentionBlock`: single-head self-attention over all grid points with a skip.
* :class:`UNetBlock` (residual block, then attention if asked) and :class:`MiddleBlock`.

Initialisation is PyTorch's default for convolutions and linear layers (uniform with bound
``1 / sqrt(fan_in)``); ``zero_init`` zeroes a layer, as pdearena's ``zero_module``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from opjax.models.layers.activations import gelu
from opjax.models.layers.pointwise import PointwiseLinear, torch_uniform

PADDING_MODES = ("circular", "zeros")
SOFTMAX_OVER = ("queries", "keys")
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "gelu": gelu,
    "relu": nn.relu,
    "silu": nn.silu,
}

# torch.nn.GroupNorm's epsilon (flax's default is 1e-6).
GROUP_NORM_EPS = 1e-5


def activation_fn(name: str) -> Callable[[jax.Array], jax.Array]:
    """The activation called ``name`` (``"gelu"`` is the exact erf GELU)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation={name!r}; expected one of {tuple(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def pad_spatial(x: jax.Array, width: int, mode: str) -> jax.Array:
    """Pad every spatial axis of ``[batch, *space, c]`` by ``width`` cells on both sides."""
    if mode not in PADDING_MODES:
        raise ValueError(f"padding_mode={mode!r}; expected one of {PADDING_MODES}")
    if width == 0:
        return x
    widths = [(0, 0)] + [(width, width)] * (x.ndim - 2) + [(0, 0)]
    return jnp.pad(x, widths, mode="wrap" if mode == "circular" else "constant")


def _dimension_numbers(rank: int) -> tuple[str, str, str]:
    """Channels-last layouts for ``lax.conv_general_dilated``: input, kernel, output."""
    space = "HWDUVT"[:rank]
    return f"N{space}C", f"{space}IO", f"N{space}C"


def _init(fan_in: int, zero: bool):
    return nn.initializers.zeros if zero else torch_uniform(fan_in)


class Conv(nn.Module):
    """Convolution ``[batch, *space, in] -> [batch, *space', features]``.

    Padding is ``kernel_size // 2`` cells per side (circular or zeros), so stride 1 keeps the
    grid and stride 2 halves an even axis. Kernel ``[*kernel, in, features]``, bias
    ``[features]``.
    """

    features: int
    kernel_size: int = 3
    stride: int = 1
    padding_mode: str = "zeros"
    zero_init: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        rank = x.ndim - 2
        channels = x.shape[-1]
        kernel_shape = (self.kernel_size,) * rank + (channels, self.features)
        fan_in = channels * self.kernel_size**rank
        kernel = self.param("kernel", _init(fan_in, self.zero_init), kernel_shape)
        bias = self.param("bias", _init(fan_in, self.zero_init), (self.features,))
        x = pad_spatial(x, self.kernel_size // 2, self.padding_mode)
        y = jax.lax.conv_general_dilated(
            x,
            kernel.astype(x.dtype),
            window_strides=(self.stride,) * rank,
            padding="VALID",
            dimension_numbers=_dimension_numbers(rank),
        )
        return y + bias.astype(y.dtype).reshape((1,) * (y.ndim - 1) + (-1,))


class Downsample(nn.Module):
    """Halve every spatial axis: 3-wide convolution with stride 2 and padding 1."""

    padding_mode: str = "zeros"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        conv = Conv(x.shape[-1], 3, stride=2, padding_mode=self.padding_mode, name="conv")
        return conv(x)


class Upsample(nn.Module):
    """Double every spatial axis with a :class:`TransposedConv` (kernel 4, stride 2, padding 1)."""

    periodic: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return TransposedConv(self.periodic, name="conv")(x)


class TransposedConv(nn.Module):
    """Transposed convolution, kernel 4, stride 2, padding 1: ``n -> 2 n`` per axis.

    ``y[2 i + m - 1] += x[i] W[m]`` for ``m = 0..3`` (output cells outside ``0..2n-1`` are
    dropped, PyTorch's ``ConvTranspose(4, 2, 1)``). With ``periodic`` the dropped cells wrap
    around instead (``y`` indices taken modulo ``2 n``), which makes the layer commute with
    periodic shifts. The kernel is stored as ``[*kernel, in, out]`` in PyTorch's orientation
    (``W[m]`` multiplies ``x[i]`` into ``y[2 i + m - 1]``).
    """

    periodic: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        rank = x.ndim - 2
        channels = x.shape[-1]
        k, stride, pad = 4, 2, 1
        # PyTorch computes the fan-in of a transposed convolution from its output channels.
        fan_in = channels * k**rank
        kernel = self.param("kernel", torch_uniform(fan_in), (k,) * rank + (channels, channels))
        bias = self.param("bias", torch_uniform(fan_in), (channels,))
        # A transposed convolution is a convolution of the stride-dilated input with the
        # flipped kernel, padded by k - 1 - pad on each side.
        flipped = jnp.flip(kernel.astype(x.dtype), axis=tuple(range(rank)))
        if self.periodic:
            # Output cell j only sees inputs within one cell, so one wrapped cell per side
            # suffices; each extra input cell adds `stride` output cells per side, cropped
            # by raising the transposed convolution's padding from `pad` to `pad + stride`.
            x = pad_spatial(x, 1, "circular")
            edges = (k - 1 - pad - stride,) * 2
        else:
            edges = (k - 1 - pad,) * 2
        y = jax.lax.conv_general_dilated(
            x,
            flipped,
            window_strides=(1,) * rank,
            padding=(edges,) * rank,
            lhs_dilation=(stride,) * rank,
            dimension_numbers=_dimension_numbers(rank),
        )
        return y + bias.astype(y.dtype).reshape((1,) * (y.ndim - 1) + (-1,))


def group_norm(groups: int, name: str) -> nn.Module:
    """PyTorch-equivalent ``GroupNorm`` (epsilon 1e-5, two-pass variance)."""
    return nn.GroupNorm(
        num_groups=groups, epsilon=GROUP_NORM_EPS, use_fast_variance=False, name=name
    )


class ResidualBlock(nn.Module):
    """Wide residual block with optional conditioning on a vector ``emb [batch, E]``.

    Additive conditioning (``use_scale_shift_norm=False``)::

        h = conv1(act(norm1(x))) + Linear(emb)
        y = conv2(act(norm2(h))) + shortcut(x)

    Scale-and-shift (FiLM / AdaGN) conditioning, ``[scale, shift] = Linear(emb)``::

        h = conv1(act(norm1(x)))
        y = conv2(act(norm2(h) * (1 + scale) + shift)) + shortcut(x)

    ``norm*`` are GroupNorms with ``norm_groups`` groups (identity when ``norm`` is False),
    convolutions are 3 wide, ``shortcut`` is a 1x1 convolution when the width changes and the
    identity otherwise. With ``emb=None`` the conditioning terms are left out (and so is their
    ``Linear``). ``conv2`` starts at zero when ``zero_init`` (pdearena always does this).
    """

    features: int
    activation: str = "gelu"
    norm: bool = True
    norm_groups: int = 1
    use_scale_shift_norm: bool = False
    padding_mode: str = "zeros"
    zero_init: bool = True

    @nn.compact
    def __call__(self, x: jax.Array, emb: jax.Array | None = None) -> jax.Array:
        act = activation_fn(self.activation)
        norm1 = group_norm(self.norm_groups, "norm1") if self.norm else (lambda v: v)
        norm2 = group_norm(self.norm_groups, "norm2") if self.norm else (lambda v: v)
        conv = dict(kernel_size=3, padding_mode=self.padding_mode)
        h = Conv(self.features, **conv, name="conv1")(act(norm1(x)))
        if emb is not None:
            width = 2 * self.features if self.use_scale_shift_norm else self.features
            e = PointwiseLinear(width, name="cond_emb")(emb)
            e = e.reshape((e.shape[0],) + (1,) * (h.ndim - 2) + (width,)).astype(h.dtype)
        if self.use_scale_shift_norm:
            h = norm2(h)
            if emb is not None:
                scale, shift = e[..., : self.features], e[..., self.features :]
                h = h * (1 + scale) + shift
            h = act(h)
        else:
            if emb is not None:
                h = h + e
            h = act(norm2(h))
        h = Conv(self.features, **conv, zero_init=self.zero_init, name="conv2")(h)
        if x.shape[-1] != self.features:
            x = Conv(self.features, kernel_size=1, name="shortcut")(x)
        return h + x


class AttentionBlock(nn.Module):
    """Single-head self-attention over all grid points, with a skip connection.

    For ``x [batch, *space, c]`` flattened to ``[batch, L, c]``::

        [q, k, v] = x W_qkv + b_qkv                 (each [batch, L, c])
        A = softmax(q k^T / sqrt(c))                 ([batch, L, L])
        y = (A v) W_o + b_o + x

    pdearena (like labml's DDPM U-Net it follows) normalises the softmax over the *queries*
    (``attn.softmax(dim=1)``), not the keys; ``softmax_over="queries"`` reproduces that,
    ``"keys"`` is standard attention. pdearena's block also builds a GroupNorm it never
    applies; it is left out here.
    """

    softmax_over: str = "queries"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.softmax_over not in SOFTMAX_OVER:
            raise ValueError(f"softmax_over={self.softmax_over!r}; expected one of {SOFTMAX_OVER}")
        batch, channels = x.shape[0], x.shape[-1]
        seq = x.reshape(batch, -1, channels)
        qkv = PointwiseLinear(3 * channels, name="projection")(seq)
        q, k, v = jnp.split(qkv, 3, axis=-1)
        logits = jnp.einsum("bic,bjc->bij", q, k) * (1.0 / math.sqrt(channels))
        weights = jax.nn.softmax(logits, axis=1 if self.softmax_over == "queries" else 2)
        out = jnp.einsum("bij,bjc->bic", weights, v)
        out = PointwiseLinear(channels, name="output")(out) + seq
        return out.reshape(x.shape)


class UNetBlock(nn.Module):
    """A :class:`ResidualBlock` to ``features`` channels, then attention if ``attention``."""

    features: int
    attention: bool = False
    activation: str = "gelu"
    norm: bool = True
    norm_groups: int = 1
    use_scale_shift_norm: bool = False
    padding_mode: str = "zeros"
    zero_init: bool = True
    softmax_over: str = "queries"

    @nn.compact
    def __call__(self, x: jax.Array, emb: jax.Array | None = None) -> jax.Array:
        x = ResidualBlock(
            self.features,
            self.activation,
            self.norm,
            self.norm_groups,
            self.use_scale_shift_norm,
            self.padding_mode,
            self.zero_init,
            name="res",
        )(x, emb)
        if self.attention:
            x = AttentionBlock(self.softmax_over, name="attn")(x)
        return x


class MiddleBlock(nn.Module):
    """Bottleneck: residual block, attention if ``attention``, residual block (same width)."""

    attention: bool = False
    activation: str = "gelu"
    norm: bool = True
    norm_groups: int = 1
    use_scale_shift_norm: bool = False
    padding_mode: str = "zeros"
    zero_init: bool = True
    softmax_over: str = "queries"

    @nn.compact
    def __call__(self, x: jax.Array, emb: jax.Array | None = None) -> jax.Array:
        settings = (
            self.activation,
            self.norm,
            self.norm_groups,
            self.use_scale_shift_norm,
            self.padding_mode,
            self.zero_init,
        )
        x = ResidualBlock(x.shape[-1], *settings, name="res1")(x, emb)
        if self.attention:
            x = AttentionBlock(self.softmax_over, name="attn")(x)
        return ResidualBlock(x.shape[-1], *settings, name="res2")(x, emb)
