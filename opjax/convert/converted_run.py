"""Write a converted external checkpoint as an opjax run directory.

``opjax convert neuralop|poseidon CKPT OUT`` leave in ``OUT`` what ``opjax train`` would
for inference: ``model.json`` (the model, its hyperparameters, identity normalisers, the
input/output shapes it was built for and where the weights came from) and
``checkpoints/{latest,best}`` holding the converted parameters, so that
``opjax.load(OUT).predict(x)`` runs the external model. There is no ``config.toml``: no
recipe produced it.
"""

from __future__ import annotations

import os
from pathlib import Path

import flax.linen as nn
import jax

from opjax.data.normalizers import Normalizers
from opjax.models.registry import model_hparams
from opjax.runs.checkpoints import RunCheckpoints
from opjax.runs.directory import CHECKPOINTS, MODEL_CARD
from opjax.runs.model_card import EvaluationSpec, ModelCard, write_model_card
from opjax.version import __version__


def ensure_free(out_dir: str | os.PathLike) -> Path:
    """``out_dir`` as a path, after checking it holds no run yet.

    Raises:
        FileExistsError: it already holds a model card or checkpoints.
    """
    out = Path(out_dir)
    if (out / MODEL_CARD).exists() or (out / CHECKPOINTS).exists():
        raise FileExistsError(f"{out} already holds a run; choose another output folder")
    return out


def write_converted_run(
    out: Path, name: str, model: nn.Module, params: dict, sample_shapes: dict, source: dict
) -> Path:
    """Write ``model`` (registered as ``name``) with ``params`` (``{"params": ...}``) to
    ``out``; ``sample_shapes`` is the model card's ``{"x": [...], "y": [...], ("t": [])}``
    and ``source`` says where the weights came from (``{library: {...}}``). The run is
    evaluated with the periodic H1 norm, as neuraloperator's and Poseidon's are."""
    card = ModelCard(
        model=name,
        hparams=model_hparams(model),
        normalizers=Normalizers(),
        sample_shapes={k: tuple(v) for k, v in sample_shapes.items()},
        weights="params",
        evaluation=EvaluationSpec(h1_periodic=True, channel_groups=None),
        data=None,
        training=None,
        source=source,
        opjax_version=__version__,
    )
    state = {"params": jax.tree.map(jax.numpy.asarray, params)}
    out.mkdir(parents=True, exist_ok=True)
    checkpoints = RunCheckpoints(str(out / CHECKPOINTS))
    try:
        meta = {"epoch": 0, "step": 0, "source": next(iter(source))}
        checkpoints.save("latest", 0, state, meta)
        checkpoints.save("best", 0, state, meta)
    finally:
        checkpoints.close()
    # The card last: a folder with a card always has its checkpoints.
    write_model_card(out, card)
    return out
