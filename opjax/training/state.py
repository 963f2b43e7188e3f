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


def _init_arguments(model: nn.Module, train: Sample) -> tuple[tuple, dict]:
    """``model.init``'s inputs: one zero sample shaped like ``train``'s ``x`` and its
    conditioning, or the model's own ``init_inputs()`` for a model whose inputs are not a
    sample's (a reduced-order model decodes coordinates and latents)."""
    if hasattr(model, "init_inputs"):
        return model.init_inputs(), {}
    x = train["x"]
    return (jnp.zeros((1, *x.shape[1:]), x.dtype),), init_conditioning(model, train)


def variable_shapes(model: nn.Module, train: Sample) -> dict:
    """The variables ``init_variables`` returns, as ``jax.ShapeDtypeStruct`` leaves
    (traced, not compiled)."""
    args, kwargs = _init_arguments(model, train)
    return jax.eval_shape(model.init, jax.random.PRNGKey(0), *args, **kwargs)


def init_variables(
    model: nn.Module, key: jax.Array, train: Sample, known: dict | None = None
) -> dict:
    """``model.init`` on one zero sample shaped like ``train``'s (jitted).

    Args:
        known: variables known already (fine-tuning: the checkpoint's), a tree shaped
            like :func:`variable_shapes`'s, whose ``jax.ShapeDtypeStruct`` leaves are to be
            initialised and whose other leaves are kept. Only the missing leaves are
            computed, so XLA compiles none of the other initialisers (for a transformer
            their random draws are most of ``init``'s compile time). The leaves computed
            equal those of a full ``init`` with the same key.
    """
    args, kwargs = _init_arguments(model, train)
    if known is None:
        return jax.jit(model.init)(key, *args, **kwargs)
    flat, treedef = jax.tree.flatten(known)
    missing = [i for i, leaf in enumerate(flat) if isinstance(leaf, jax.ShapeDtypeStruct)]

    def missing_leaves(key, args, kwargs):
        leaves = jax.tree.leaves(model.init(key, *args, **kwargs))
        return [leaves[i] for i in missing]

    for i, value in zip(missing, jax.jit(missing_leaves)(key, args, kwargs)):
        flat[i] = value
    return jax.tree.unflatten(treedef, flat)


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
