"""Building blocks shared by the model families."""

from opjax.models.layers.activations import gelu
from opjax.models.layers.domain_padding import pad, pad_widths, unpad
from opjax.models.layers.grid_embedding import append_grid, grid_coordinates
from opjax.models.layers.pointwise import ChannelMLP, PointwiseLinear, SoftGating
from opjax.models.layers.spectral_conv import SpectralConv

__all__ = [
    "ChannelMLP",
    "gelu",
    "PointwiseLinear",
    "SoftGating",
    "SpectralConv",
    "append_grid",
    "grid_coordinates",
    "pad",
    "pad_widths",
    "unpad",
]
