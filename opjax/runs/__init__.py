"""Run directories: their files, checkpoints, the model card, and ``load``.

A run directory (:mod:`.directory`) is what ``opjax train`` and ``opjax convert`` write and
all that ``evaluate``, ``finetune`` and :func:`load` need.
"""

from opjax.runs.checkpoints import RunCheckpoints
from opjax.runs.loaded_run import LoadedRun, load
from opjax.runs.model_card import (
    CARD_VERSION,
    DataSpec,
    EvaluationSpec,
    MeshSpec,
    ModelCard,
    ModelCardError,
    TrainingSpec,
    read_model_card,
    write_model_card,
)
from opjax.runs.predict import predict

__all__ = [
    "CARD_VERSION",
    "DataSpec",
    "EvaluationSpec",
    "MeshSpec",
    "LoadedRun",
    "ModelCard",
    "ModelCardError",
    "RunCheckpoints",
    "TrainingSpec",
    "load",
    "predict",
    "read_model_card",
    "write_model_card",
]
