"""One conformance suite over every registered model.

Each family declares a tiny configuration per supported spatial rank (``CONFORMANCE``);
a registered model without an entry fails ``test_every_registered_model_is_covered``. For
each (family, rank) the suite checks the model contract: the output shape
``[batch, *space, out_channels]``, jit equals eager, finite non-zero gradients, the same
key gives the same parameters and outputs, an Orbax save/restore round trip, a rebuild from
the model card (``model_hparams`` -> ``build_model``), for families that claim it,
evaluation at another resolution, and both modes of autodiff (``tests/models/
test_autodiff_conformance.py``). A decoder of latent codes (Phi-ROM) is called with the
coordinates as ``x`` and a latent ``[batch, latent_dim]`` in place of ``t``.
"""

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.fem import LagrangeSpace, l_shape
from opjax.models import build_model, hparam_names, model_hparams, registered_models
from opjax.models.layers.mesh_graph import mesh_graph, multigrid_graph
from opjax.runs import RunCheckpoints


@dataclasses.dataclass(frozen=True)
class Family:
    hparams: dict  # rank -> tiny hparams
    shapes: dict  # rank -> spatial shape used in the checks
    other_resolution: dict | None = None  # rank -> another spatial shape (if claimed)
    conditioned: bool = False  # takes a lead time t [batch]
    latent_dim: int = 0  # takes a latent code [batch, latent_dim] (x: the coordinates)
    graph: Callable | None = None  # mesh models: (n_dofs,) -> the graph= of that mesh


# Mesh models run on the DOF graph of P1 on the L-shape (level 1: 21 DOFs, 2: 65, 3: 225);
# SPON-MG's coarse mesh is the level below its fine one.
_LEVEL_OF_DOFS = {21: 1, 65: 2, 225: 3}


def _p1_space(level):
    return LagrangeSpace(l_shape(level), 1)


@functools.cache
def _spon_graph(shape):
    return mesh_graph(_p1_space(_LEVEL_OF_DOFS[shape[0]]))


@functools.cache
def _spon_mg_graph(shape):
    level = _LEVEL_OF_DOFS[shape[0]]
    return multigrid_graph(_p1_space(level), _p1_space(level - 1))


CONFORMANCE = {
    "fno": Family(
        hparams={
            1: {"n_modes": (4,), "hidden_channels": 8, "n_layers": 2},
            2: {"n_modes": (4, 4), "hidden_channels": 8, "n_layers": 2},
            3: {"n_modes": (2, 2, 2), "hidden_channels": 4, "n_layers": 1},
        },
        shapes={1: (16,), 2: (8, 12), 3: (6, 6, 6)},
        other_resolution={1: (24,), 2: (12, 16), 3: (8, 8, 8)},
    ),
    "lsm": Family(
        hparams={
            1: {
                "d_model": 8,
                "num_token": 2,
                "num_basis": 3,
                "patch_size": (2,),
                "n_levels": 3,
                "num_heads": 2,
                "projection_channels": 8,
            },
            2: {
                "d_model": 8,
                "num_token": 2,
                "num_basis": 3,
                "patch_size": (2, 2),
                "n_levels": 3,
                "num_heads": 2,
                "projection_channels": 8,
            },
        },
        shapes={1: (16,), 2: (16, 16)},
        other_resolution={1: (32,), 2: (32, 16)},
    ),
    "phirom": Family(
        hparams={
            1: {"latent_dim": 3, "decoder": "mlp", "decoder_width": 8, "decoder_depth": 2},
            2: {
                "latent_dim": 3,
                "decoder": "hyper",
                "decoder_width": 8,
                "decoder_depth": 2,
                "coords_low": (-1.0, -2.0, 0.0),
                "coords_high": (1.0, 2.0, 3.0),
            },
        },
        shapes={1: (16,), 2: (8, 12)},
        other_resolution={1: (24,), 2: (12, 16)},
        latent_dim=3,
    ),
    "refiner": Family(
        hparams={
            rank: {
                "num_refinement_steps": 1,
                "min_noise_std": 1e-2,
                "backbone_hparams": {
                    "hidden_channels": 4,
                    "ch_mults": (1, 2),
                    "n_blocks": 1,
                    "norm_groups": 1,
                    "output_norm_groups": 1,
                    "zero_init_output": False,
                },
            }
            for rank in (1,)  # PDE-Refiner's setting (KS); the backbone's 2D is tested above
        },
        shapes={1: (16,)},
        other_resolution={1: (32,)},
    ),
    "scot": Family(
        hparams={
            2: {
                "image_size": 16,
                "patch_size": 2,
                "embed_dim": 8,
                "depths": (1, 1),
                "num_heads": (1, 2),
                "skip_connections": (1, 0),
                "window_size": 4,
                "mlp_ratio": 2.0,
            }
        },
        shapes={2: (16, 16)},
        other_resolution={2: (12, 12)},
        conditioned=True,
    ),
    "spon": Family(
        hparams={1: {"width": 8, "n_layers": 2, "dirichlet_channels": (1, 2)}},
        shapes={1: (21,)},
        other_resolution={1: (65,)},
        graph=_spon_graph,
    ),
    "spon_mg": Family(
        hparams={
            1: {
                "width": 8,
                "coarse_width": 8,
                "n_fine_layers": 1,
                "n_coarse_layers": 1,
                "aggregation": "mean",
            }
        },
        shapes={1: (65,)},
        other_resolution={1: (225,)},
        graph=_spon_mg_graph,
    ),
    "unet": Family(
        hparams={
            rank: {
                "hidden_channels": 8,
                "ch_mults": (1, 2),
                "n_blocks": 1,
                "norm_groups": 1,
                "output_norm_groups": 1,
                "zero_init_output": False,
                "zero_init_residual": False,
            }
            for rank in (1, 2)
        },
        shapes={1: (16,), 2: (8, 16)},
        other_resolution={1: (32,), 2: (16, 16)},
        conditioned=True,
    ),
}

IN, OUT, BATCH = 3, 2, 2
CASES = [(name, rank) for name, fam in sorted(CONFORMANCE.items()) for rank in sorted(fam.hparams)]


def build(name, rank):
    channels = {"in_channels": IN, "out_channels": OUT}
    hparams = {k: v for k, v in channels.items() if k in hparam_names(name)}
    return build_model(name, {**CONFORMANCE[name].hparams[rank], **hparams})


def inputs(name, rank, shape=None, seed=0):
    shape = shape or CONFORMANCE[name].shapes[rank]
    x = jax.random.normal(jax.random.PRNGKey(seed), (BATCH, *shape, IN))
    family = CONFORMANCE[name]
    t = jnp.linspace(0.1, 0.9, BATCH) if family.conditioned else None
    if family.latent_dim:
        t = jax.random.normal(jax.random.PRNGKey(seed + 1), (BATCH, family.latent_dim))
    return x, t, graph_kwargs(name, shape)


def graph_kwargs(name, shape):
    """The mesh of a mesh model (``{"graph": ...}``) for inputs of spatial ``shape``."""
    family = CONFORMANCE[name]
    return {} if family.graph is None else {"graph": family.graph(tuple(shape))}


@functools.cache  # compiling dominates: one jitted init and apply per (family, rank)
def compiled(name, rank):
    model = build(name, rank)
    return model, jax.jit(model.init), jax.jit(model.apply)


@functools.cache
def init(name, rank, key=0):
    model, jit_init, _ = compiled(name, rank)
    x, t, kw = inputs(name, rank)
    return model, jit_init(jax.random.PRNGKey(key), x, t, **kw), x, t, kw


def test_every_registered_model_is_covered():
    assert set(registered_models()) == set(CONFORMANCE)


@pytest.mark.parametrize("name, rank", CASES)
def test_shape_jit_and_gradients(name, rank):
    model, params, x, t, kw = init(name, rank)
    y = model.apply(params, x, t, **kw)
    assert y.shape == (BATCH, *CONFORMANCE[name].shapes[rank], OUT)
    apply = compiled(name, rank)[2]
    np.testing.assert_allclose(apply(params, x, t, **kw), y, rtol=1e-5, atol=1e-5)
    grads = jax.jit(jax.grad(lambda p: jnp.sum(model.apply(p, x, t, **kw) ** 2)))(params)
    leaves = jax.tree.leaves(grads)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in leaves)
    assert sum(float(jnp.sum(jnp.abs(g))) for g in leaves) > 0


@pytest.mark.parametrize("name, rank", CASES)
def test_determinism_under_a_fixed_key(name, rank):
    """Two separate initialisations from equal keys give equal parameters and outputs; a
    different key gives different parameters."""
    model, jit_init, apply = compiled(name, rank)
    x, t, kw = inputs(name, rank)
    params = jit_init(jax.random.PRNGKey(3), x, t, **kw)
    again = jit_init(jax.random.PRNGKey(3), x, t, **kw)
    other = jit_init(jax.random.PRNGKey(4), x, t, **kw)
    assert params is not again
    same = jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), params, again)
    assert all(jax.tree.leaves(same))
    assert not all(
        jax.tree.leaves(jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), params, other))
    )
    np.testing.assert_array_equal(apply(params, x, t, **kw), apply(again, x, t, **kw))


@pytest.mark.parametrize("name, rank", CASES)
def test_checkpoint_round_trip_and_model_card_rebuild(name, rank, tmp_path):
    model, params, x, t, kw = init(name, rank)
    checkpoints = RunCheckpoints(str(tmp_path / "checkpoints"))
    checkpoints.save("latest", 1, {"params": params}, {"epoch": 0})
    checkpoints.close()
    template = jax.tree.map(jnp.zeros_like, params)
    restored = RunCheckpoints(str(tmp_path / "checkpoints"), read_only=True)
    loaded = restored.restore_params("latest", template)
    restored.close()
    rebuilt = build_model(name, model_hparams(model))
    assert rebuilt == model and hash(rebuilt) == hash(model)  # the same module, so same apply
    apply = compiled(name, rank)[2]
    np.testing.assert_array_equal(apply(loaded, x, t, **kw), apply(params, x, t, **kw))


@pytest.mark.parametrize(
    "name, rank", [c for c in CASES if CONFORMANCE[c[0]].other_resolution is not None]
)
def test_resolution_change(name, rank):
    model, params, _, _, _ = init(name, rank)
    shape = CONFORMANCE[name].other_resolution[rank]
    x, t, kw = inputs(name, rank, shape, seed=1)
    y = compiled(name, rank)[2](params, x, t, **kw)
    assert y.shape == (BATCH, *shape, OUT) and bool(jnp.all(jnp.isfinite(y)))
