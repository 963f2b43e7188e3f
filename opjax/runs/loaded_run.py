"""``opjax.load(run_dir)``: a trained model, its parameters and its normalisers."""

from __future__ import annotations

import os
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from opjax.data.normalizers import Normalizers
from opjax.data.sample import CONDITIONING_KEYWORDS
from opjax.fem import LagrangeSpace
from opjax.models.on_mesh import OnMesh, on_mesh
from opjax.models.phirom import PhiROM
from opjax.models.registry import build_model
from opjax.runs.checkpoints import RunCheckpoints
from opjax.runs.directory import CHECKPOINTS, MODEL_CARD
from opjax.runs.model_card import ModelCard, ModelCardError, read_model_card
from opjax.runs.predict import predict
from opjax.runs.reduced_order_inference import (
    decoded_trajectory,
    fit_initial_latent,
    uniform_grid,
)
from opjax.runs.run_mesh import read_run_mesh
from opjax.runs.solver_spec import CorrectionSpec
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
        self,
        x: jax.Array,
        t: jax.Array | None = None,
        z: jax.Array | None = None,
        **inference,
    ) -> jax.Array:
        """Physical-unit prediction for physical-unit input ``x [batch, *space, in]`` (a mesh
        model: ``[batch, n_dofs, in]``, the DOFs of the input functions), at
        lead times ``t [batch]`` for a time-conditioned model (e.g. scOT), with PDE
        parameters ``z [batch, n_params]`` for a parameter-conditioned one (recipe key
        ``data.window.params``, in that order).

        A reduced-order model (``phirom``) predicts trajectories instead: ``x`` is the
        initial state on the training grid and ``t [T]`` the times to predict at (the
        first being the initial state's), and the result is ``[batch, T, *space, C]``; the
        keywords of :meth:`predict_trajectory` choose where it is observed and decoded.
        """
        if isinstance(self.model, PhiROM):
            if t is None:
                raise ValueError("a reduced-order model predicts at times t [T]; none given")
            return self.predict_trajectory(x, t, z, **inference)
        if inference:
            raise TypeError(f"unexpected keywords {sorted(inference)} for {self.card.model}")
        t = None if t is None else jnp.broadcast_to(jnp.asarray(t, jnp.float32), x.shape[:1])
        z = None if z is None else jnp.asarray(z, jnp.float32)
        return predict(self.model, self.params, self.normalizer, jnp.asarray(x), t, z)

    def on(self, space: LagrangeSpace, coarse: LagrangeSpace | None = None) -> LoadedRun:
        """A mesh model's run on another mesh (mesh transfer): the same parameters bound to
        ``space`` (and, for SPON-MG, the ``coarse`` space whose mesh ``space``'s refines);
        ``predict`` then takes and returns that mesh's DOFs.

        Raises:
            ValueError: the run's model is not a mesh model; the spaces do not fit it.
        """
        if not isinstance(self.model, OnMesh):
            raise ValueError(f"{self.card.model} is not a mesh model: it runs on no mesh")
        if space.degree != self.card.mesh.degree:
            raise ValueError(
                f"the run's model was trained on P{self.card.mesh.degree} DOFs; got a "
                f"P{space.degree} space"
            )
        return self._replace(model=on_mesh(self.model.network, space, coarse))

    def grid(self) -> np.ndarray:
        """A reduced-order run's solver grid ``[*space, d]``: the uniform grid from its
        ``coords_low`` to ``coords_high`` with the training samples' shape."""
        space = self.card.sample_shapes["x"][:-1]
        return uniform_grid(self.model.coords_low, self.model.coords_high, space)

    def predict_trajectory(
        self,
        u0: jax.Array | None,
        times: jax.Array,
        z: jax.Array | None = None,
        *,
        observed_at: jax.Array | None = None,
        observed: jax.Array | None = None,
        coords: jax.Array | None = None,
        steps: int = 300,
        learning_rate: float = 0.1,
    ) -> jax.Array:
        """A reduced-order model's trajectories ``[batch, T, *points, C]`` at ``times [T]``.

        The initial latent is fitted (:func:`.reduced_order_inference.fit_initial_latent`,
        ``steps`` Adam steps at ``learning_rate``) to ``u0 [batch, *space, C]`` on the
        training grid, or to values ``observed [batch, M, C]`` at any points
        ``observed_at [batch, M, d]`` (``u0`` None): sparse or irregular observations. The
        trajectory is decoded at ``coords [batch, *points, d]`` (default: the grid).
        """
        grid = jnp.asarray(self.grid(), jnp.float32)
        d = grid.shape[-1]
        if observed is None:
            u0 = jnp.asarray(u0, jnp.float32)
            observed = u0.reshape(u0.shape[0], -1, u0.shape[-1])
            observed_at = jnp.broadcast_to(
                grid.reshape(1, -1, d), (u0.shape[0], *observed.shape[1:2], d)
            )
        batch = observed.shape[0]
        latent0 = fit_initial_latent(
            self.model,
            self.params,
            jnp.asarray(observed_at, jnp.float32),
            jnp.asarray(observed, jnp.float32),
            steps,
            learning_rate,
        )
        if coords is None:
            coords = jnp.broadcast_to(grid, (batch, *grid.shape))
        z = None if z is None else jnp.asarray(z, jnp.float32)
        times = jnp.asarray(times, jnp.float32)
        return decoded_trajectory(
            self.model, self.params, latent0, times, jnp.asarray(coords, jnp.float32), z
        )


def load(run_dir: str | os.PathLike, checkpoint: str = "latest") -> LoadedRun:
    """Rebuild the model of ``run_dir`` from its card and restore a checkpoint.

    A network trained to correct a coarse solver step comes back as that corrected step
    (:class:`~opjax.models.correction.CorrectedModel`), the card's ``training.correction``;
    a mesh model comes back bound to the run's mesh (:class:`~opjax.models.on_mesh.OnMesh`,
    the run's ``mesh.npz``; :meth:`LoadedRun.on` binds it to another).

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
    if card.training is not None and card.training.correction is not None:
        model = CorrectionSpec.from_dict(card.training.correction).model(model)
    if card.mesh is not None:
        model = on_mesh(model, *read_run_mesh(run_dir))
    if isinstance(model, PhiROM):
        inputs, conditioning = model.init_inputs(), {}
    else:
        inputs = (jnp.zeros((1, *card.sample_shapes["x"])),)
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
        jax.eval_shape(model.init, jax.random.PRNGKey(0), *inputs, **conditioning),
    )
    checkpoints = RunCheckpoints(os.path.join(run_dir, CHECKPOINTS), read_only=True)
    try:
        params = checkpoints.restore_params(checkpoint, template, key=card.weights)
    finally:
        checkpoints.close()
    return LoadedRun(model, params, card.normalizers, card)
