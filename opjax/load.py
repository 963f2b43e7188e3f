"""``opjax.load(run_dir)``: a trained model, its parameters and its normalisers."""

from __future__ import annotations

import os
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from opjax.data.normalizers import Normalizers
from opjax.data.sample import CONDITIONING_KEYWORDS
from opjax.evaluation.evaluate import make_predict
from opjax.models.registry import build_model
from opjax.training import run_dir as rd
from opjax.training.checkpoints import RunCheckpoints
from opjax.training.sharding import data_mesh, replicated


class LoadedRun(NamedTuple):
    """What a run directory holds for inference: ``model.apply(params, x)`` maps normalised
    inputs to normalised outputs; ``normalizer`` converts both ways; ``card`` is model.json."""

    model: nn.Module
    params: dict
    normalizer: Normalizers
    card: dict

    def predict(
        self, x: jax.Array, t: jax.Array | None = None, z: jax.Array | None = None
    ) -> jax.Array:
        """Physical-unit prediction for physical-unit input ``x [batch, *space, in]``, at
        lead times ``t [batch]`` for a time-conditioned model (e.g. scOT), with PDE
        parameters ``z [batch, n_params]`` for a parameter-conditioned one (recipe key
        ``data.window.params``, in that order)."""
        t = None if t is None else jnp.broadcast_to(jnp.asarray(t, jnp.float32), x.shape[:1])
        z = None if z is None else jnp.asarray(z, jnp.float32)
        return make_predict(self.model, self.normalizer)(self.params, jnp.asarray(x), t, z)


def load(run_dir: str | os.PathLike, checkpoint: str = "latest") -> LoadedRun:
    """Rebuild the model of ``run_dir`` from its card and restore a checkpoint.

    Args:
        run_dir: a run directory written by ``opjax train``.
        checkpoint: ``"latest"`` (the last epoch saved) or ``"best"``.
    """
    if checkpoint not in ("latest", "best"):
        raise ValueError(f"checkpoint={checkpoint!r}; expected 'latest' or 'best'")
    card = rd.read_model_card(run_dir)
    model = build_model(card["model"], card["hparams"])
    train_shape = card["data"]["train_shape"]
    conditioning = {
        keyword: jnp.zeros((1, *train_shape[key]))
        for key, keyword in CONDITIONING_KEYWORDS.items()
        if key in train_shape
    }
    # Replicated over the data mesh, as the trainer holds them (so compiled evaluation
    # functions are shared with a training run in the same process).
    sharding = replicated(data_mesh())
    template = jax.tree.map(
        lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding),
        jax.eval_shape(
            model.init, jax.random.PRNGKey(0), jnp.zeros((1, *train_shape["x"])), **conditioning
        ),
    )
    checkpoints = RunCheckpoints(os.path.join(run_dir, rd.CHECKPOINTS), read_only=True)
    try:
        # A run that kept a moving average of its weights evaluated (and is used) with it.
        key = "ema" if card.get("ema_decay") else "params"
        params = checkpoints.restore_params(checkpoint, template, key=key)
    finally:
        checkpoints.close()
    return LoadedRun(model, params, Normalizers.from_dict(card["normalizers"]), card)
