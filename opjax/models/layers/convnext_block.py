"""ConvNeXt block (Liu et al., "A ConvNet for the 2020s", CVPR 2022) with a
time-conditioned norm, as Poseidon's scOT uses on its skip connections; channels-last:

    y = x + lambda * (W_2 GELU(W_1 LN(DWConv_7x7(x), t) + b_1) + b_2)

``DWConv_7x7`` is a depthwise 7x7 convolution with zero padding 3 and a bias, ``W_1``
widens ``C -> 4C``, ``W_2`` narrows back, GELU is the exact erf form and ``lambda [C]`` is a
per-channel layer scale (initialised to 1e-6). Submodule names mirror the reference:
``dwconv``, ``norm``, ``pwconv1``, ``pwconv2``; the reference's layer-scale tensor
``weight`` is the parameter ``layer_scale``.
"""

from __future__ import annotations

import flax.linen as nn
import jax

from opjax.models.layers.activations import gelu
from opjax.models.layers.conditional_layer_norm import normal_002, time_layer_norm


class ConvNeXtBlock(nn.Module):
    """``(x [batch, H, W, C], t [batch] or None) -> [batch, H, W, C]``.

    Attributes:
        conditioned: time-conditioned norm (else a plain LayerNorm that ignores ``t``).
        layer_norm_eps: epsilon of the norm.
        layer_scale_init: initial value of ``layer_scale``.
    """

    conditioned: bool = True
    layer_norm_eps: float = 1e-5
    layer_scale_init: float = 1e-6

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array | None) -> jax.Array:
        channels = x.shape[-1]
        dense = dict(kernel_init=normal_002, bias_init=nn.initializers.zeros)
        y = nn.Conv(
            channels,
            (7, 7),
            padding=((3, 3), (3, 3)),
            feature_group_count=channels,
            **dense,
            name="dwconv",
        )(x)
        y = time_layer_norm(self.conditioned, self.layer_norm_eps, "norm")(y, t)
        y = gelu(nn.Dense(4 * channels, **dense, name="pwconv1")(y))
        y = nn.Dense(channels, **dense, name="pwconv2")(y)
        scale = self.param(
            "layer_scale", nn.initializers.constant(self.layer_scale_init), (channels,)
        )
        return x + scale.reshape(1, 1, 1, channels).astype(y.dtype) * y
