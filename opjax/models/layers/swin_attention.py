"""Swin-v2 window attention (Liu et al., "Swin Transformer V2", CVPR 2022) as in Hugging
Face transformers' ``Swinv2Attention`` (the code path Poseidon's scOT uses), channels-last.

A feature map ``[batch, H, W, C]`` is cut into non-overlapping ``w x w`` windows
(:func:`window_partition`), ``[batch, nW, N, C]`` with ``nW = (H/w)(W/w)`` windows in
row-major order and ``N = w^2`` tokens per window, also row-major. Inside every window,
with ``h`` heads of width ``d = C/h``:

    q = x W_q + b_q,   k = x W_k,   v = x W_v + b_v          (the key has no bias)
    s = exp(min(tau, log 100)) * <q/|q|, k/|k|>  +  16 sigmoid(B)  (+ M + M)
    y = (softmax(s) v) W_o + b_o

``tau`` is a learned per-head ``logit_scale``. The relative position bias ``B`` is a
continuous function of the offset between two tokens of a window,
``B[i, j] = mlp(c(p_i - p_j))``, with ``mlp = Linear(2, 512) -> ReLU -> Linear(512, h)``
(no bias on the second) and log-spaced coordinates
``c(delta) = sign(8 delta / (w - 1)) log2(1 + |8 delta / (w - 1)|) / 3``
(:func:`relative_coords_table`, :func:`relative_position_index`). These two are fixed
tables, not parameters.

Shifted windows roll the map by ``-s`` before partitioning (and back after), and the
mask ``M`` (:func:`shift_window_mask`, ``-100`` between tokens that came from different
regions of the unrolled map) stops attention across the wrap-around. transformers adds the
mask twice (``s + M + M``); this module does the same, so ``M`` effectively is ``-200``.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from opjax.models.layers.conditional_layer_norm import normal_002

CPB_HIDDEN = 512
MASK_VALUE = -100.0


def window_partition(x: jax.Array, window: int) -> jax.Array:
    """``[batch, H, W, C] -> [batch, (H/w)(W/w), w^2, C]``, windows and tokens row-major
    (a numpy array stays one)."""
    b, h, w, c = x.shape
    x = x.reshape(b, h // window, window, w // window, window, c)
    x = x.transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, (h // window) * (w // window), window * window, c)


def window_reverse(windows: jax.Array, window: int, height: int, width: int) -> jax.Array:
    """Inverse of :func:`window_partition`: ``[batch, nW, w^2, C] -> [batch, H, W, C]``."""
    b, _, _, c = windows.shape
    x = windows.reshape(b, height // window, width // window, window, window, c)
    x = x.transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, height, width, c)


def relative_coords_table(window: int) -> np.ndarray:
    """Log-spaced offsets ``[(2w-1)^2, 2]`` for every ``(dy, dx)`` in ``(-(w-1) .. w-1)^2``
    (``dy`` major), as the continuous position bias MLP's input."""
    offsets = np.arange(-(window - 1), window, dtype=np.float32)
    table = np.stack(np.meshgrid(offsets, offsets, indexing="ij"), axis=-1)
    table = table / np.float32(window - 1) * np.float32(8.0)
    table = np.sign(table) * np.log2(np.abs(table) + np.float32(1.0)) / np.float32(math.log2(8))
    return table.reshape(-1, 2).astype(np.float32)


def relative_position_index(window: int) -> np.ndarray:
    """``[w^2, w^2]``: the row of :func:`relative_coords_table` for tokens ``(i, j)``."""
    coords = np.stack(np.meshgrid(np.arange(window), np.arange(window), indexing="ij"))
    coords = coords.reshape(2, -1)
    delta = coords[:, :, None] - coords[:, None, :] + (window - 1)
    return delta[0] * (2 * window - 1) + delta[1]


def shift_window_mask(height: int, width: int, window: int, shift: int) -> np.ndarray:
    """``[nW, w^2, w^2]``: 0 between tokens of the same region of the unrolled map, -100
    otherwise. The map rolled by ``-shift`` has three bands per axis,
    ``[0, H-w)``, ``[H-w, H-shift)``, ``[H-shift, H)``; a region is a pair of bands."""

    def bands(n):
        label = np.zeros(n, np.int64)
        label[n - window : n - shift] = 1
        label[n - shift :] = 2
        return label

    regions = bands(height)[:, None] * 3 + bands(width)[None, :]
    windows = window_partition(regions[None, :, :, None], window)[0, :, :, 0]  # [nW, N]
    differ = windows[:, None, :] != windows[:, :, None]
    return np.where(differ, np.float32(MASK_VALUE), np.float32(0.0))


def _l2_normalize(x: jax.Array) -> jax.Array:
    """``x / max(|x|, 1e-12)`` over the last axis (``torch.nn.functional.normalize``).

    The clamp is taken on ``|x|^2`` (at ``1e-24``), the same values, so that the gradient
    at a zero vector is zero rather than NaN (``sqrt`` has an infinite slope at 0).
    """
    squared = jnp.sum(x * x, axis=-1, keepdims=True)
    return x * jax.lax.rsqrt(jnp.maximum(squared, 1e-24))


class CosineWindowSelfAttention(nn.Module):
    """``[batch, nW, N, C] -> [batch, nW, N, C]``: the attention of the module docstring
    before the output projection (transformers' ``Swinv2SelfAttention``).

    Attributes:
        num_heads: attention heads ``h``; ``C`` must be divisible by it.
        window: window side ``w`` (``N = w^2``).
        qkv_bias: biases on the query and value projections.
    """

    num_heads: int
    window: int
    qkv_bias: bool = True

    @nn.compact
    def __call__(self, x: jax.Array, mask: np.ndarray | None = None) -> jax.Array:
        b, n_windows, n, c = x.shape
        heads = self.num_heads
        if c % heads:
            raise ValueError(f"window attention width {c} is not divisible by {heads} heads")

        def project(name, bias):
            dense = nn.Dense(
                c, use_bias=bias, kernel_init=normal_002, bias_init=nn.initializers.zeros, name=name
            )
            return dense(x).reshape(b, n_windows, n, heads, c // heads).transpose(0, 1, 3, 2, 4)

        q = project("query", self.qkv_bias)
        k = project("key", False)
        v = project("value", self.qkv_bias)
        logit_scale = self.param(
            "logit_scale", nn.initializers.constant(math.log(10.0)), (heads,), jnp.float32
        )
        scale = jnp.exp(jnp.minimum(logit_scale, math.log(1.0 / 0.01))).astype(x.dtype)
        scores = _l2_normalize(q) @ jnp.swapaxes(_l2_normalize(k), -1, -2)
        scores = scores * scale.reshape(1, 1, heads, 1, 1)

        table = jnp.asarray(relative_coords_table(self.window), x.dtype)
        hidden = nn.Dense(
            CPB_HIDDEN,
            kernel_init=normal_002,
            bias_init=nn.initializers.zeros,
            name="continuous_position_bias_mlp_0",
        )(table)
        bias_table = nn.Dense(
            heads, use_bias=False, kernel_init=normal_002, name="continuous_position_bias_mlp_2"
        )(nn.relu(hidden))
        index = relative_position_index(self.window).reshape(-1)
        bias = bias_table[index].reshape(n, n, heads).transpose(2, 0, 1)
        scores = scores + (16.0 * jax.nn.sigmoid(bias))[None, None]

        if mask is not None:
            m = jnp.asarray(mask, x.dtype)[None, :, None]
            scores = scores + m + m  # sic: transformers adds the shift mask twice

        out = jax.nn.softmax(scores, axis=-1) @ v  # [b, nW, h, N, d]
        return out.transpose(0, 1, 3, 2, 4).reshape(b, n_windows, n, c)


class WindowAttention(nn.Module):
    """Swin-v2 window attention with its output projection, on a feature map
    ``[batch, H, W, C] -> [batch, H, W, C]`` (shifted by ``shift`` when positive).

    ``H`` and ``W`` must be multiples of ``window``. Submodules mirror transformers'
    ``Swinv2Attention``: ``self`` (:class:`CosineWindowSelfAttention`) and ``output``
    (``dense``).

    Attributes:
        num_heads: attention heads.
        window: window side.
        shift: cyclic shift of the windows (0: none).
        qkv_bias: biases on the query and value projections.
    """

    num_heads: int
    window: int
    shift: int = 0
    qkv_bias: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        _, height, width, channels = x.shape
        if height % self.window or width % self.window:
            raise ValueError(
                f"window attention on a {height}x{width} map needs multiples of the window "
                f"{self.window}"
            )
        mask = None
        if self.shift > 0:
            x = jnp.roll(x, (-self.shift, -self.shift), axis=(1, 2))
            mask = shift_window_mask(height, width, self.window, self.shift)
        windows = window_partition(x, self.window)
        attention = CosineWindowSelfAttention(
            self.num_heads, self.window, self.qkv_bias, name="self"
        )
        windows = attention(windows, mask)
        windows = DenseSubmodule(channels, name="output")(windows)
        y = window_reverse(windows, self.window, height, width)
        if self.shift > 0:
            y = jnp.roll(y, (self.shift, self.shift), axis=(1, 2))
        return y


class DenseSubmodule(nn.Module):
    """``[..., in] -> [..., features]`` through one ``Dense`` named ``dense``: the shape of
    transformers' ``Swinv2SelfOutput``, ``Swinv2Intermediate`` and ``Swinv2Output``
    (dropout, zero in Poseidon, is left out; the intermediate's GELU is the caller's)."""

    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        dense = nn.Dense(
            self.features, kernel_init=normal_002, bias_init=nn.initializers.zeros, name="dense"
        )
        return dense(x)
