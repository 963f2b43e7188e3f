"""Latent Spectral Model: reference parameter counts, shapes in every rank, gradients, and
parity with the reference PyTorch implementation (fixture from make_lsm_fixture.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.convert.lsm import lsm_params_from_reference
from opjax.models.layers.neural_spectral_block import patchify, unpatchify
from opjax.models.layers.unet_blocks import upsample_linear
from opjax.models.lsm import LSM
from opjax.models.registry import build_model, model_hparams
from tests.conftest import FIXTURES


def _count(params):
    return sum(int(np.prod(a.shape)) for a in jax.tree.leaves(params))


def _shapes(model, shape):
    return jax.eval_shape(model.init, jax.random.PRNGKey(0), jnp.zeros(shape))


def test_navier_stokes_parameter_count_matches_reference():
    """The reference's exp_ns settings: 10 input steps (+2 grid channels), 64x64, patch 4x4."""
    model = LSM(in_channels=10, out_channels=1, d_model=64, num_token=4, num_basis=12)
    variables = _shapes(model, (1, 64, 64, 10))
    assert _count(variables["params"]) == 19_188_033


def test_darcy_parameter_count_matches_reference():
    """The reference's exp_darcy settings: 85x85 padded by 11, patch 6x6."""
    model = LSM(1, 1, d_model=64, patch_size=(6, 6), padding=11)
    variables = _shapes(model, (1, 85, 85, 1))
    assert _count(variables["params"]) == 19_187_457
    # Batch-norm running statistics are state, not parameters.
    assert set(variables) == {"params", "batch_stats"}


def _random_variables(model, x, seed=0):
    """Variables of the right structure filled with numpy noise (skips compiling ``init``)."""
    shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0), x)
    rng = np.random.default_rng(seed)

    def fill(path, leaf):
        name = path[-1].key
        if name in ("scale", "var"):
            return jnp.asarray(rng.uniform(0.5, 1.5, leaf.shape), leaf.dtype)
        bound = 1.0 / np.sqrt(np.prod(leaf.shape[:-1]) if len(leaf.shape) > 1 else 16)
        return jnp.asarray(rng.uniform(-bound, bound, leaf.shape), leaf.dtype)

    return jax.tree_util.tree_map_with_path(fill, shapes)


@pytest.mark.parametrize(
    "patch, padding, grid, shape",
    [((2,), 3, False, (2, 29, 3)), ((1, 2, 1), (0, 1, 0), True, (1, 6, 7, 5, 3))],
)
def test_shape_contract_in_1d_and_3d(patch, padding, grid, shape):
    model = LSM(3, 2, d_model=8, num_basis=4, patch_size=patch, padding=padding, n_levels=3)
    model = model.clone(grid_embedding=grid)
    x = jnp.asarray(np.random.default_rng(0).normal(size=shape), jnp.float32)
    y = jax.jit(model.apply)(_random_variables(model, x), x)
    assert y.shape == (*shape[:-1], 2)
    assert bool(jnp.all(jnp.isfinite(y)))


def test_init_then_training_step_has_finite_gradients_and_updates_statistics():
    model = LSM(2, 1, d_model=8, num_basis=4, patch_size=(2, 1), padding=(0, 1), n_levels=2)
    x = jnp.asarray(np.random.default_rng(1).normal(size=(2, 8, 7, 2)), jnp.float32)
    variables = jax.jit(model.init)(jax.random.PRNGKey(0), x)
    stats = variables["batch_stats"]["inc"]["norm1"]
    np.testing.assert_array_equal(stats["mean"], 0.0)
    np.testing.assert_array_equal(stats["var"], 1.0)
    weights = variables["params"]["process1"]["weights"]
    assert weights.shape == (8, 8) and 0 <= float(weights.min()) <= float(weights.max()) <= 1 / 8

    @jax.jit
    def loss(params, stats):
        y, updates = model.apply(
            {"params": params, "batch_stats": stats}, x, train=True, mutable=["batch_stats"]
        )
        assert y.shape == (2, 8, 7, 1)
        return jnp.mean(y**2), updates["batch_stats"]

    (value, stats), grads = jax.value_and_grad(loss, has_aux=True)(
        variables["params"], variables["batch_stats"]
    )
    assert bool(jnp.isfinite(value))
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))
    for block in ("process1", "process2"):
        for name in ("weights", "latent"):
            assert float(jnp.max(jnp.abs(grads[block][name]))) > 0
    moved = jax.tree.map(
        lambda a, b: float(jnp.max(jnp.abs(a - b))), stats, variables["batch_stats"]
    )
    assert min(jax.tree.leaves(moved)) > 0


def test_training_without_mutable_statistics_names_the_fix():
    model = LSM(1, 1, d_model=8, num_basis=4, patch_size=(1, 1), n_levels=2)
    x = jnp.zeros((1, 4, 4, 1))
    variables = jax.eval_shape(model.init, jax.random.PRNGKey(0), x)
    with pytest.raises(ValueError, match=r"mutable=\['batch_stats'\]"):
        jax.eval_shape(lambda v: model.apply(v, x, train=True), variables)


def test_bad_inputs_name_the_problem():
    model = LSM(2, 1, d_model=8, patch_size=(4, 4))
    with pytest.raises(ValueError, match="in_channels=2 .* 3 channels"):
        _shapes(model, (1, 64, 64, 3))
    with pytest.raises(ValueError, match="is 2D and expects input"):
        _shapes(model, (1, 64, 2))
    with pytest.raises(ValueError, match=r"level 5 .* \(2, 2\), not divisible"):
        _shapes(model, (1, 32, 32, 2))
    with pytest.raises(ValueError, match="num_heads=8"):
        _shapes(model.clone(d_model=12), (1, 64, 64, 2))


def test_patchify_round_trip_and_aligned_upsampling():
    x = jnp.arange(2 * 6 * 4 * 3, dtype=jnp.float32).reshape(2, 6, 4, 3)
    patches = patchify(x, (3, 2))
    assert patches.shape == (2 * 2 * 2, 6, 3)
    # The first patch holds the top-left 3x2 block.
    np.testing.assert_array_equal(patches[0], x[0, :3, :2].reshape(6, 3))
    np.testing.assert_array_equal(unpatchify(patches, (6, 4), (3, 2)), x)
    # align_corners=True: ends are kept, interior is linear.
    line = jnp.asarray([0.0, 3.0, 6.0]).reshape(1, 3, 1)
    np.testing.assert_allclose(
        upsample_linear(line)[0, :, 0], [0, 1.2, 2.4, 3.6, 4.8, 6], atol=1e-6
    )


def test_model_card_round_trip():
    model = LSM(1, 1, d_model=8, patch_size=(6, 6), padding=(11, 11))
    rebuilt = build_model("lsm", model_hparams(model))
    assert model_hparams(rebuilt) == model_hparams(model)


def _reference_fixture():
    fixture = np.load(FIXTURES / "lsm_reference.npz")
    state = {}
    for key in fixture.files:
        if key.startswith("param/") and key.endswith("/q"):
            name = key[len("param/") : -len("/q")]
            step = fixture[f"param/{name}/step"]
            state[name] = fixture[key].astype(np.float32) * step
    config = {k.split("/")[-1]: int(fixture[k]) for k in fixture.files if k.startswith("config/")}
    return fixture, state, config


def _relative_error(y, expected):
    return float(np.max(np.abs(np.asarray(y) - expected)) / np.max(np.abs(expected)))


def test_parity_with_reference_lsm_2d():
    """thuml/Latent-Spectral-Models ``LSM_2D.Model`` with random weights, eval and train mode."""
    fixture, state, config = _reference_fixture()
    variables = lsm_params_from_reference(state)
    base = LSM(
        in_channels=config["in_dim"],
        out_channels=config["out_dim"],
        d_model=config["d_model"],
        num_token=config["num_token"],
        num_basis=config["num_basis"],
    )
    # Case a: reference padding "4,2" lists the last axis first.
    model_a = base.clone(patch_size=(2, 2), padding=(2, 4))
    x = fixture["a/x"]
    assert _relative_error(jax.jit(model_a.apply)(variables, x), fixture["a/y_eval"]) < 1e-5

    train = jax.jit(lambda v, x: model_a.apply(v, x, train=True, mutable=["batch_stats"]))
    y, updates = train(variables, x)
    assert _relative_error(y, fixture["a/y_train"]) < 1e-5
    stats = {k[len("a/stats/") :]: fixture[k] for k in fixture.files if k.startswith("a/stats/")}
    expected = lsm_params_from_reference({**state, **stats})["batch_stats"]
    for got, want in zip(jax.tree.leaves(updates["batch_stats"]), jax.tree.leaves(expected)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)

    # Case b: odd sizes on the way down, so the decoder pads after upsampling.
    model_b = base.clone(patch_size=(1, 1), padding=0)
    y = jax.jit(model_b.apply)(variables, fixture["b/x"])
    assert _relative_error(y, fixture["b/y_eval"]) < 1e-5


def test_missing_reference_tensor_is_named():
    _, state, _ = _reference_fixture()
    del state["process3.latent"]
    with pytest.raises(KeyError, match=r"process3\.latent"):
        lsm_params_from_reference(state)
