"""Neural operator models: ``flax.linen`` modules registered by name.

Every model is called as ``model.apply(params, x, t=None, train=False)`` with channels-last
fields ``x [batch, *space, in_channels]``; the mesh models (SPON, SPON-MG) take DOFs
``x [batch, n_dofs, in_channels]`` and their mesh as ``graph=``.
"""

from opjax.models.fno import FNO
from opjax.models.lsm import LSM
from opjax.models.phirom import PhiROM, latent_rollout, latent_step
from opjax.models.refiner import PDERefiner, refinement_samples
from opjax.models.registry import (
    build_model,
    hparam_names,
    model_hparams,
    register,
    registered_models,
)
from opjax.models.scot import ScOT
from opjax.models.spon import SPON, SPONMG
from opjax.models.unet import UNet

__all__ = [
    "FNO",
    "LSM",
    "PDERefiner",
    "PhiROM",
    "SPON",
    "SPONMG",
    "ScOT",
    "UNet",
    "build_model",
    "hparam_names",
    "latent_rollout",
    "latent_step",
    "model_hparams",
    "refinement_samples",
    "register",
    "registered_models",
]
