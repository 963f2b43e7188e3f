"""``opjax.load(run_dir)``: a trained model, its parameters and its normalisers."""

from __future__ import annotations

import os
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from opjax.data.normalizers import Normalizers
from opjax.data.sample import CONDITIONING_KEYWORDS
from opjax.models.registry import build_model
from opjax.runs.checkpoints import RunCheckpoints
from opjax.runs.directory import CHECKPOINTS, MODEL_CARD
from opjax.runs.model_card import ModelCard, ModelCardError, read_model_card
from opjax.runs.predict import predict
from opjax.sharding import data_mesh, replicated


class LoadedRun(NamedTuple):
    """What a run directory holds for inference: ``model.apply(params, x)`` maps normalised
    inputs to normalised outputs; ``normalizer`` converts both ways; ``card`` is its
    ``model.json``."""

    model: nn.Module
    params: dict
    normalizer: Normalizers
    card: ModelCard

    def predict(
        self, x: jax.Array, t: jax.Array | None = None, z: jax.Array | None = None
    ) -> jax.Array:
        """Physical-unit prediction for physical-unit input ``x [batch, *space, in]``, at
        lead times ``t [batch]`` for a time-conditioned model (e.g. scOT), with PDE
        parameters ``z [batch, n_params]`` for a parameter-conditioned one (recipe key
        ``data.window.params``, in that order)."""
        t = None if t is None else jnp.broadcast_to(jnp.asarray(t, jnp.float32), x.shape[:1])
        z = None if z is None else jnp.asarray(z, jnp.float32)
        return predict(self.model, self.params, self.normalizer, jnp.asarray(x), t, z)


def load(run_dir: str | os.PathLike, checkpoint: str = "latest") -> LoadedRun:
    """Rebuild the model of ``run_dir`` from its card and restore a checkpoint.

    Args:
        run_dir: a run directory written by ``opjax train`` or ``opjax convert``.
        checkpoint: ``"latest"`` (the last epoch saved) or ``"best"``.
    """
    if checkpoint not in ("latest", "best"):
        raise ValueError(f"checkpoint={checkpoint!r}; expected 'latest' or 'best'")
    card = read_model_card(run_dir)
    try:
        model = build_model(card.model, card.hparams)
    except (KeyError, ValueError) as err:  # an unknown model, or hyperparameters out of range
        message = err.args[0] if err.args else err
        raise ModelCardError(f"{os.path.join(run_dir, MODEL_CARD)}: {message}") from None
    conditioning = {
        keyword: jnp.zeros((1, *card.sample_shapes[key]))
        for key, keyword in CONDITIONING_KEYWORDS.items()
        if key in card.sample_shapes
    }
    # Replicated over the data mesh, as the trainer holds them (so compiled evaluation
    # functions are shared with a training run in the same process).
    sharding = replicated(data_mesh())
    template = jax.tree.map(
        lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding),
        jax.eval_shape(
            model.init,
            jax.random.PRNGKey(0),
            jnp.zeros((1, *card.sample_shapes["x"])),
            **conditioning,
        ),
    )
    checkpoints = RunCheckpoints(os.path.join(run_dir, CHECKPOINTS), read_only=True)
    try:
        params = checkpoints.restore_params(checkpoint, template, key=card.weights)
    finally:
        checkpoints.close()
    return LoadedRun(model, params, card.normalizers, card)
