import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.models import FNO, build_model, model_hparams


def _count(params):
    return sum(int(np.prod(a.shape)) for a in jax.tree.leaves(params))


def test_darcy_recipe_parameter_count_matches_neuraloperator():
    model = FNO(n_modes=(8, 8), in_channels=1, out_channels=1, hidden_channels=32)
    params = jax.eval_shape(model.init, jax.random.PRNGKey(0), jnp.zeros((1, 16, 16, 1)))
    # neuraloperator reports 176,993 counting each complex weight once; in real numbers:
    assert _count(params) == 340_833


@pytest.mark.parametrize(
    "n_modes, shape", [((6,), (2, 20, 3)), ((4, 6), (2, 12, 16, 3)), ((4, 4, 4), (1, 8, 8, 6, 3))]
)
def test_shape_contract_in_every_rank(n_modes, shape):
    model = FNO(n_modes=n_modes, in_channels=3, out_channels=2, hidden_channels=8, n_layers=2)
    x = jnp.asarray(np.random.default_rng(0).normal(size=shape), jnp.float32)
    params = jax.jit(model.init)(jax.random.PRNGKey(0), x)
    y = jax.jit(model.apply)(params, x)
    assert y.shape == (*shape[:-1], 2)
    assert bool(jnp.all(jnp.isfinite(y)))


def test_trained_at_16_runs_at_32():
    model = FNO(n_modes=(8, 8), in_channels=1, out_channels=1, hidden_channels=8, n_layers=2)
    params = jax.jit(model.init)(jax.random.PRNGKey(0), jnp.zeros((1, 16, 16, 1)))
    y = jax.jit(model.apply)(params, jnp.ones((2, 32, 32, 1)))
    assert y.shape == (2, 32, 32, 1)


def test_domain_padding_keeps_shape_and_changes_the_operator():
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 20, 20, 1)), jnp.float32)
    plain = FNO(n_modes=(4, 4), in_channels=1, out_channels=1, hidden_channels=8, n_layers=2)
    padded = plain.clone(domain_padding=0.25)
    params = jax.jit(plain.init)(jax.random.PRNGKey(0), x)
    y_plain, y_padded = jax.jit(plain.apply)(params, x), jax.jit(padded.apply)(params, x)
    assert y_padded.shape == y_plain.shape
    assert float(jnp.max(jnp.abs(y_padded - y_plain))) > 1e-3


def test_wrong_channels_and_rank_name_the_problem():
    model = FNO(n_modes=(4, 4), in_channels=2, out_channels=1, hidden_channels=8)
    with pytest.raises(ValueError, match="in_channels=2 .* 3 channels"):
        model.init(jax.random.PRNGKey(0), jnp.zeros((1, 8, 8, 3)))
    with pytest.raises(ValueError, match="is 2D and expects input"):
        model.init(jax.random.PRNGKey(0), jnp.zeros((1, 8, 2)))


def test_model_card_round_trip():
    model = FNO(n_modes=(4, 4), in_channels=1, out_channels=1, hidden_channels=8)
    rebuilt = build_model("fno", model_hparams(model))
    assert model_hparams(rebuilt) == model_hparams(model)
    with pytest.raises(KeyError, match="did you mean 'hidden_channels'"):
        build_model(
            "fno", {"n_modes": [4, 4], "in_channels": 1, "out_channels": 1, "hiden_channels": 4}
        )
    with pytest.raises(KeyError, match="did you mean 'fno'"):
        build_model("fn0", {})
