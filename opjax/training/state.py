"""The initial train state: the model's variables, the optimiser's state and the step.

See :mod:`opjax.training.step` for the state's layout. The conditioning inputs a training
Sample carries (lead times ``t``, PDE parameters ``z``) are the model's inputs from
initialisation on.
"""

from __future__ import annotations

import inspect

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh

from opjax.data.sample import Sample, conditioning
from opjax.recipe_tables import RecipeError
from opjax.sharding import replicated


def init_conditioning(model: nn.Module, train: Sample) -> dict:
    """Zero conditioning inputs ``[1, ...]`` for ``model.init``, one per kind ``train`` has.

    Raises:
        RecipeError: the data has PDE parameters but the model takes no ``z``.
    """
    inputs = {
        kw: jnp.zeros((1, *np.shape(v)[1:]), jnp.float32) for kw, v in conditioning(train).items()
    }
    if "z" in inputs and "z" not in inspect.signature(type(model).__call__).parameters:
        raise RecipeError(
            f"data.window.params gives the model PDE parameters, but {type(model).__name__} "
            "takes no z: remove data.window.params or choose a parameter-conditioned model "
            "(e.g. unet with n_condition_params)"
        )
    return inputs


def init_variables(model: nn.Module, key: jax.Array, train: Sample) -> dict:
    """``model.init`` on one zero sample shaped like ``train``'s (jitted)."""
    x = train["x"]
    return jax.jit(model.init)(
        key, jnp.zeros((1, *x.shape[1:]), x.dtype), **init_conditioning(model, train)
    )


def init_train_state(
    variables: dict, optimizer: optax.GradientTransformation, mesh: Mesh, ema: bool = False
) -> dict:
    """``{"params": variables, "opt_state", "step": 0}`` (and ``"ema"``, a copy of the
    variables, when ``ema``), replicated over ``mesh``. The optimiser sees the trainable
    collection only (not batch-norm statistics)."""
    state = {
        "params": variables,
        "opt_state": optimizer.init(variables["params"]),
        "step": jnp.int32(0),
    }
    if ema:
        state["ema"] = jax.tree.map(jnp.copy, variables)
    return jax.device_put(state, replicated(mesh))
