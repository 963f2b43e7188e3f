"""The pretrained weights a fine-tuning recipe's ``[finetune] checkpoint`` names.

Either an opjax run directory (``opjax train``, or ``opjax convert poseidon``/``neuralop``,
which write one) or a Poseidon checkpoint folder as downloaded from the Hugging Face Hub
(``config.json`` with ``model.safetensors`` or ``pytorch_model.bin``), converted on the
fly. How the weights then enter the model is :mod:`opjax.training.finetune`'s part.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax
import numpy as np

from opjax.convert.poseidon import from_poseidon
from opjax.models.registry import model_hparams
from opjax.recipe_tables import RecipeError
from opjax.runs.directory import MODEL_CARD
from opjax.runs.loaded_run import load
from opjax.training.finetune import Pretrained


def load_pretrained(path: str | os.PathLike) -> Pretrained:
    """Read a run directory or a Poseidon (Hugging Face) checkpoint folder.

    Raises:
        RecipeError: ``path`` is neither.
    """
    folder = Path(path)
    if (folder / MODEL_CARD).exists():
        run = load(folder, "latest")
        variables = jax.tree.map(np.asarray, jax.device_get(run.params))
        return Pretrained(run.card.model, dict(run.card.hparams), variables, str(folder))
    if (folder / "config.json").exists():
        model, variables = from_poseidon(folder)
        return Pretrained("scot", model_hparams(model), variables, str(folder))
    raise RecipeError(
        f"finetune.checkpoint = {str(path)!r}: neither an opjax run directory "
        f"({MODEL_CARD}) nor a Hugging Face checkpoint folder (config.json)"
    )
