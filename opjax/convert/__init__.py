"""External checkpoints -> opjax parameters."""

from opjax.convert.lsm import lsm_params_from_reference
from opjax.convert.neuralop import convert_neuralop_cli, fno_params_from_neuralop, from_neuralop
from opjax.convert.pdearena import unet_params_from_pdearena
from opjax.convert.poseidon import (
    convert_poseidon_cli,
    from_poseidon,
    scot_hparams_from_config,
    scot_params_from_state,
)

__all__ = [
    "convert_neuralop_cli",
    "convert_poseidon_cli",
    "fno_params_from_neuralop",
    "from_neuralop",
    "from_poseidon",
    "lsm_params_from_reference",
    "scot_hparams_from_config",
    "scot_params_from_state",
    "unet_params_from_pdearena",
]
