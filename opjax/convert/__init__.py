"""External checkpoints -> opjax parameters."""

from opjax.convert.neuralop import fno_params_from_neuralop

__all__ = ["fno_params_from_neuralop"]
