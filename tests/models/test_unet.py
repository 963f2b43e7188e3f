import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.convert.pdearena import unet_params_from_pdearena
from opjax.models import build_model, model_hparams
from opjax.models.layers.embeddings import sinusoidal_embedding
from opjax.models.layers.unet_layers import TransposedConv
from opjax.models.unet import UNet
from tests.conftest import FIXTURES


def _count(params):
    return sum(int(np.prod(a.shape)) for a in jax.tree.leaves(params))


def _random(shape, seed=0):
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape), jnp.float32)


def _tiny(**overrides):
    settings = dict(in_channels=2, out_channels=1, hidden_channels=8, ch_mults=(1, 2), n_blocks=1)
    return UNet(**{**settings, **overrides})


def _params(model, x, seed=0, **kwargs):
    """Random parameters of ``model`` (all non-zero), without compiling its initialiser.

    Kernels are uniform with PyTorch's bound ``1 / sqrt(fan_in)``; GroupNorm scales near one.
    """
    shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0), x, **kwargs)
    rng = np.random.default_rng(seed)

    def fill(path, leaf):
        shape = leaf.shape
        if jax.tree_util.keystr(path).endswith("['scale']"):
            value = 1.0 + 0.2 * rng.normal(size=shape)
        elif len(shape) == 1:
            value = 0.2 * rng.normal(size=shape)
        else:
            bound = 1.0 / np.sqrt(np.prod(shape[:-1]))
            value = rng.uniform(-bound, bound, size=shape)
        return jnp.asarray(value, jnp.float32)

    return jax.tree_util.tree_map_with_path(fill, shapes)


def test_ks_backbone_parameter_count_matches_pdearena():
    # pdearena's "Unetmod-1d-64" as PDE-Refiner trains it on KS: input [u(t - dt), noised
    # u(t)], two scalar PDE parameters (param_conditioning="scalar_2"); pdearena counts
    # 53,924,225 parameters (53,759,169 with one input channel and time conditioning only).
    refiner = UNet(in_channels=2, out_channels=1, n_condition_params=2, periodic_upsample=False)
    params = jax.eval_shape(refiner.init, jax.random.PRNGKey(0), jnp.zeros((1, 256, 2)))
    assert _count(params) == 53_924_225
    plain = refiner.clone(in_channels=1, n_condition_params=0)
    params = jax.eval_shape(plain.init, jax.random.PRNGKey(0), jnp.zeros((1, 256, 1)))
    assert _count(params) == 53_759_169


@pytest.mark.parametrize("shape", [(2, 16, 2), (2, 8, 12, 2)])
def test_shapes_in_1d_and_2d(shape):
    model = UNet(2, 3, hidden_channels=8, ch_mults=(1, 2, 1), is_attn=(False, True, False))
    x = jax.ShapeDtypeStruct(shape, jnp.float32)
    params = jax.eval_shape(model.init, jax.random.PRNGKey(0), x)
    y = jax.eval_shape(model.apply, params, x, jax.ShapeDtypeStruct(shape[:1], jnp.float32))
    assert y.shape == (*shape[:-1], 3)


def test_initialisation_zeroes_the_output_and_residual_convolutions():
    # pdearena's zero_module on the final convolution and on each residual block's second.
    model = UNet(
        2, 3, hidden_channels=8, ch_mults=(1,), n_blocks=1, norm=False, time_conditioning=False
    )
    x = _random((2, 8, 2))
    params = model.init(jax.random.PRNGKey(0), x)["params"]
    for p in (params["final"], params["down_0"]["res"]["conv2"]):
        assert not any(bool(jnp.any(a)) for a in jax.tree.leaves(p))
    assert bool(jnp.any(params["down_0"]["res"]["conv1"]["kernel"]))


def test_circular_and_zero_padding_differ_only_near_the_boundary():
    # Without GroupNorm (whose statistics are global) and with one level, an output cell sees
    # 12 cells either side: image_proj 1, five residual blocks of two 3-wide convs, final 1.
    model = _tiny(ch_mults=(1,), norm=False, padding_mode="circular")
    x = _random((2, 48, 2))
    params = _params(model, x)
    t = jnp.ones(2)
    y_circ = jax.jit(model.apply)(params, x, t)
    y_zero = jax.jit(model.clone(padding_mode="zeros").apply)(params, x, t)
    diff = jnp.max(jnp.abs(y_circ - y_zero), axis=(0, 2))
    assert float(diff[0]) > 1e-3 and float(diff[-1]) > 1e-3
    assert float(jnp.max(diff[12:-12])) < 1e-6


@pytest.mark.parametrize("shape, axes", [((2, 32, 2), (1,)), ((1, 16, 8, 2), (1, 2))])
def test_circular_unet_commutes_with_shifts_by_the_coarsest_cell(shape, axes):
    # Three levels halve the grid twice: shifts by multiples of 4 cells commute with the network.
    model = _tiny(ch_mults=(1, 2, 1), is_attn=(False, True, False))
    x = _random(shape)
    params = _params(model, x)
    t = jnp.full(shape[0], 3.0)
    shift = tuple(4 * (a + 1) for a in range(len(axes)))
    pair = jnp.concatenate([x, jnp.roll(x, shift, axes)])
    y, y_shifted = jnp.split(jax.jit(model.apply)(params, pair, jnp.concatenate([t, t])), 2)
    np.testing.assert_allclose(y_shifted, jnp.roll(y, shift, axes), atol=1e-5)


def test_periodic_transposed_conv_differs_from_the_cropped_one_only_at_the_edges():
    # pdearena's transposed convolutions drop the cells past the edges (PyTorch has no
    # circular transposed convolution), which breaks periodicity there.
    x = _random((2, 8, 3))
    params = _params(TransposedConv(periodic=True), x)
    periodic = TransposedConv(periodic=True).apply(params, x)
    cropped = TransposedConv(periodic=False).apply(params, x)
    assert periodic.shape == cropped.shape == (2, 16, 3)
    np.testing.assert_allclose(periodic[:, 1:-1], cropped[:, 1:-1], atol=1e-6)
    # The cells cut off one end wrap onto the other: W[3] x[n-1] -> y[0], W[0] x[0] -> y[2n-1].
    kernel = params["params"]["kernel"]
    np.testing.assert_allclose(periodic[:, 0] - cropped[:, 0], x[:, -1] @ kernel[3], atol=1e-6)
    np.testing.assert_allclose(periodic[:, -1] - cropped[:, -1], x[:, 0] @ kernel[0], atol=1e-6)


def test_time_and_parameter_conditioning():
    model = _tiny(n_condition_params=2)
    x = _random((2, 16, 2))
    # Initialised without t and z: the embedding parameters exist anyway.
    shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0), x)
    assert {"time_embed", "param_embed_0", "param_embed_1"} <= set(shapes["params"])
    params = _params(model, x)
    apply = jax.jit(model.apply)
    t, z = jnp.array([1.0, 500.0]), jnp.array([[0.5, 0.1], [0.2, 0.3]])
    x4 = jnp.concatenate([x, x])
    # Samples 2 and 3 repeat 0 and 1, with the time of sample 3 changed.
    t4 = jnp.concatenate([t, t.at[1].set(7.0)])
    z4 = jnp.concatenate([z, z])
    y = apply(params, x4, t4, z=z4)
    np.testing.assert_allclose(y[2], y[0], atol=1e-6)
    assert float(jnp.max(jnp.abs(y[3] - y[1]))) > 1e-3
    y_z = apply(params, x4, t4, z=z4 + 0.5)
    assert float(jnp.min(jnp.max(jnp.abs(y_z - y), axis=(1, 2)))) > 1e-3
    # None contributes nothing to the embedding, which is not the same as t = 0.
    y_none = apply(params, x4, None, z=z4)
    assert float(jnp.max(jnp.abs(y_none - apply(params, x4, 0.0 * t4, z=z4)))) > 1e-4


def test_unconditioned_unet_ignores_t_and_has_no_conditioning_layers():
    model = _tiny(time_conditioning=False)
    x = _random((2, 16, 2))
    params = _params(model, x)
    names = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(params)]
    assert not any("embed" in n or "cond_emb" in n for n in names)
    apply = jax.jit(model.apply)
    np.testing.assert_array_equal(
        apply(params, x, jnp.array([3.0, 900.0])), apply(params, x, jnp.zeros(2))
    )
    with pytest.raises(ValueError, match="n_condition_params=0"):
        jax.eval_shape(model.apply, params, x, z=jnp.ones((2, 1)))


def test_scale_shift_conditioning():
    model = _tiny(use_scale_shift_norm=True, padding_mode="zeros")
    x = _random((2, 16, 2))
    params = _params(model, x)
    # One Linear gives both scale and shift: 2 x the block width.
    assert params["params"]["down_0"]["res"]["cond_emb"]["kernel"].shape == (32, 16)
    apply = jax.jit(model.apply)
    y0 = apply(params, x, jnp.array([1.0, 2.0]))
    y1 = apply(params, x, jnp.array([1.0, 300.0]))
    assert bool(jnp.all(jnp.isfinite(y0)))
    np.testing.assert_allclose(y0[0], y1[0], atol=1e-6)
    assert float(jnp.max(jnp.abs(y1[1] - y0[1]))) > 1e-3

    # With scale = shift = 0 every block is the unconditioned one.
    def strip(tree):
        return {
            k: strip(v) if isinstance(v, dict) else v
            for k, v in tree.items()
            if k not in ("cond_emb", "time_embed")
        }

    zeroed = jax.tree_util.tree_map_with_path(
        lambda p, a: jnp.zeros_like(a) if "cond_emb" in jax.tree_util.keystr(p) else a, params
    )
    plain = jax.jit(model.clone(time_conditioning=False).apply)
    np.testing.assert_allclose(
        apply(zeroed, x, jnp.array([1.0, 300.0])), plain(strip(params), x), atol=1e-6
    )


def test_jit_and_finite_gradients():
    model = _tiny(ch_mults=(2,), is_attn=(True,), use_scale_shift_norm=True)
    x = _random((2, 16, 2))
    params = _params(model, x)
    t = jnp.array([10.0, 20.0])

    @jax.jit
    def loss(p, x):
        return jnp.mean(model.apply(p, x, t) ** 2)

    grads, grad_x = jax.grad(loss, argnums=(0, 1))(params, x)
    leaves = jax.tree.leaves(grads)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in leaves)
    assert all(float(jnp.max(jnp.abs(g))) > 0 for g in leaves)
    assert bool(jnp.all(jnp.isfinite(grad_x)))


def test_bad_inputs_name_the_problem():
    model = _tiny(ch_mults=(1, 2, 2))
    with pytest.raises(ValueError, match="in_channels=2 .* 3 channels"):
        jax.eval_shape(model.init, jax.random.PRNGKey(0), jnp.zeros((1, 16, 3)))
    with pytest.raises(ValueError, match="divisible by 4"):
        jax.eval_shape(model.init, jax.random.PRNGKey(0), jnp.zeros((1, 18, 2)))
    with pytest.raises(ValueError, match="one flag per level"):
        jax.eval_shape(
            model.clone(is_attn=(True,)).init, jax.random.PRNGKey(0), jnp.zeros((1, 16, 2))
        )
    with pytest.raises(ValueError, match="padding_mode='reflect'"):
        jax.eval_shape(
            model.clone(padding_mode="reflect").init, jax.random.PRNGKey(0), jnp.zeros((1, 16, 2))
        )
    with pytest.raises(ValueError, match=r"z must have shape \[batch=1, 2\]"):
        jax.eval_shape(
            model.clone(n_condition_params=2).init,
            jax.random.PRNGKey(0),
            jnp.zeros((1, 16, 2)),
            z=jnp.zeros((1, 3)),
        )


def test_model_card_round_trip():
    model = _tiny(is_attn=(False, True), n_condition_params=1)
    rebuilt = build_model("unet", model_hparams(model))
    assert model_hparams(rebuilt) == model_hparams(model)


def test_sinusoidal_embedding_formula():
    s = jnp.array([0.0, 1.5, 700.0])
    emb = sinusoidal_embedding(s, 7)
    freqs = np.exp(-np.log(10_000.0) * np.arange(3) / 3)
    args = np.asarray(s, np.float64)[:, None] * freqs
    expected = np.concatenate([np.cos(args), np.sin(args), np.zeros((3, 1))], axis=1)
    np.testing.assert_allclose(emb, expected, atol=2e-4)


# Fixture configurations: see tests/fixtures/make_pdearena_unet_fixture.py.
PDEARENA_MODELS = {
    "cond1d": UNet(
        2,
        1,
        hidden_channels=8,
        ch_mults=(1, 2, 1),
        is_attn=(False, True, False),
        mid_attn=True,
        n_blocks=2,
        n_condition_params=2,
        padding_mode="circular",
        periodic_upsample=False,
    ),
    "scaleshift1d": UNet(
        1,
        2,
        hidden_channels=8,
        ch_mults=(1, 2),
        n_blocks=1,
        use_scale_shift_norm=True,
        use1x1=True,
        activation="silu",
        padding_mode="zeros",
    ),
    "cond2d": UNet(
        3,
        3,
        hidden_channels=8,
        ch_mults=(1, 2),
        is_attn=(False, True),
        n_blocks=1,
        padding_mode="circular",
        periodic_upsample=False,
    ),
    "plain2d": UNet(
        2,
        1,
        hidden_channels=8,
        ch_mults=(1, 2),
        n_blocks=1,
        padding_mode="zeros",
        time_conditioning=False,
    ),
}
PDEARENA_CASES = [
    ("cond1d", "tz"),
    ("cond1d", "z"),
    ("scaleshift1d", "t"),
    ("cond2d", "t"),
    ("plain2d", "none"),
]


@pytest.fixture(scope="module")
def pdearena_fixture():
    with np.load(FIXTURES / "pdearena_unet1d.npz") as data:
        return dict(data)


@pytest.mark.parametrize("name, case", PDEARENA_CASES)
def test_parity_with_pdearena(pdearena_fixture, name, case):
    data = pdearena_fixture
    prefix = f"{name}/param/"
    state = {k[len(prefix) :]: v for k, v in data.items() if k.startswith(prefix)}
    params = unet_params_from_pdearena(state)
    model = PDEARENA_MODELS[name]
    x = jnp.asarray(data[f"{name}/x"])
    expected = jax.eval_shape(model.init, jax.random.PRNGKey(0), x)
    assert jax.tree.map(jnp.shape, params) == jax.tree.map(jnp.shape, expected)
    t = jnp.asarray(data[f"{name}/t"]) if "t" in case else None
    z = jnp.asarray(data[f"{name}/z"]) if "z" in case else None
    y = np.asarray(jax.jit(model.apply)(params, x, t, z=z))
    reference = data[f"{name}/y_{case}"]
    assert y.shape == reference.shape
    assert np.max(np.abs(y - reference)) <= 1e-5 * np.max(np.abs(reference))
