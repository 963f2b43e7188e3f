"""External checkpoints -> opjax parameters."""

from opjax.convert.neuralop import convert_neuralop_cli, fno_params_from_neuralop, from_neuralop

__all__ = ["convert_neuralop_cli", "fno_params_from_neuralop", "from_neuralop"]
