"""External checkpoints -> opjax parameters."""

from opjax.convert.lsm import lsm_params_from_reference
from opjax.convert.neuralop import convert_neuralop_cli, fno_params_from_neuralop, from_neuralop
from opjax.convert.pdearena import unet_params_from_pdearena

__all__ = [
    "convert_neuralop_cli",
    "fno_params_from_neuralop",
    "from_neuralop",
    "lsm_params_from_reference",
    "unet_params_from_pdearena",
]
