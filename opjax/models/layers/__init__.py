"""Building blocks shared by the model families."""

from opjax.models.layers.activations import cosine, gelu, sine
from opjax.models.layers.conditional_layer_norm import ConditionalLayerNorm
from opjax.models.layers.convnext_block import ConvNeXtBlock
from opjax.models.layers.domain_padding import pad, pad_widths, unpad
from opjax.models.layers.grid_embedding import append_grid, grid_coordinates
from opjax.models.layers.pointwise import ChannelMLP, PointwiseLinear, SoftGating
from opjax.models.layers.spectral_conv import SpectralConv
from opjax.models.layers.swin_attention import WindowAttention
from opjax.models.layers.swin_block import SwinBlock

__all__ = [
    "ChannelMLP",
    "ConditionalLayerNorm",
    "ConvNeXtBlock",
    "cosine",
    "gelu",
    "sine",
    "PointwiseLinear",
    "SoftGating",
    "SpectralConv",
    "SwinBlock",
    "WindowAttention",
    "append_grid",
    "grid_coordinates",
    "pad",
    "pad_widths",
    "unpad",
]
