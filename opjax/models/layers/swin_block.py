"""A post-norm Swin-v2 transformer block with a time-conditioned norm (Poseidon's
``ScOTLayer``), on a channels-last feature map ``x [batch, H, W, C]``:

    x = x + LN_before(WindowAttention(x), t)
    x = x + LN_after(W_2 GELU(W_1 x + b_1) + b_2, t)      (W_1: C -> mlp_ratio C)

``LN`` is :func:`~opjax.models.layers.conditional_layer_norm.time_layer_norm`, the
attention :class:`~opjax.models.layers.swin_attention.WindowAttention` and GELU the exact
erf form. Submodule names mirror the reference: ``attention``, ``layernorm_before``,
``intermediate`` (``dense``), ``output`` (``dense``), ``layernorm_after``.
"""

from __future__ import annotations

import flax.linen as nn
import jax

from opjax.models.layers.activations import gelu
from opjax.models.layers.conditional_layer_norm import time_layer_norm
from opjax.models.layers.swin_attention import DenseSubmodule, WindowAttention


class SwinBlock(nn.Module):
    """``(x [batch, H, W, C], t [batch] or None) -> [batch, H, W, C]``.

    Attributes:
        num_heads: attention heads.
        window: attention window side (``H`` and ``W`` must be multiples of it).
        shift: cyclic window shift (0: none).
        mlp_ratio: hidden width of the MLP relative to ``C``.
        qkv_bias: biases on the query and value projections.
        conditioned: time-conditioned norms (else plain LayerNorms that ignore ``t``).
        layer_norm_eps: epsilon of both norms.
    """

    num_heads: int
    window: int
    shift: int = 0
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    conditioned: bool = True
    layer_norm_eps: float = 1e-5

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array | None) -> jax.Array:
        channels = x.shape[-1]
        attention = WindowAttention(
            self.num_heads, self.window, self.shift, self.qkv_bias, name="attention"
        )
        norm_before = time_layer_norm(self.conditioned, self.layer_norm_eps, "layernorm_before")
        x = x + norm_before(attention(x), t)
        hidden = gelu(DenseSubmodule(int(self.mlp_ratio * channels), name="intermediate")(x))
        y = DenseSubmodule(channels, name="output")(hidden)
        norm_after = time_layer_norm(self.conditioned, self.layer_norm_eps, "layernorm_after")
        return x + norm_after(y, t)
