"""Phi-ROM's networks: the reference's sizes and initialisation, the hyper-decoder's formula,
the dynamics' parameter normalisation, the latent rollout, and bad input."""

import math

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.models import build_model, latent_rollout
from opjax.models.phirom import PhiROM
from opjax.models.registry import HyperparameterError

BURGERS = {  # the reference's 1D Burgers configuration
    "out_channels": 1,
    "latent_dim": 4,
    "decoder": "mlp",
    "decoder_width": 32,
    "decoder_depth": 4,
    "dynamics_width": 64,
    "dynamics_depth": 4,
    "n_params": 1,
    "n_trajectories": 8,
    "n_times": 100,
    "coords_low": (0.0,),
    "coords_high": (100.0,),
    "params_mean": (0.0225,),
    "params_std": (0.0049,),
}


def _init(model, d, seed=0, batch=2, points=5):
    coords = jnp.zeros((batch, points, d))
    return model.init(jax.random.PRNGKey(seed), coords, jnp.zeros((batch, model.latent_dim)))


def test_the_burgers_configuration_has_the_reference_parameter_count():
    model = build_model("phirom", BURGERS)
    variables = _init(model, 1)
    sizes = jax.tree.map(lambda a: a.size, variables["params"])
    decoder = 5 * 32 + 32 + 3 * (32 * 32 + 32) + 32 + 1
    dynamics = (1 * 4 + 4) + (8 * 64 + 64) + 3 * (64 * 64 + 64) + (64 * 4 + 4) + 4
    assert sum(jax.tree.leaves(sizes["decoder_net"])) == decoder
    assert sum(jax.tree.leaves(sizes["dynamics"])) == dynamics
    assert sizes["latent_memory"] == 8 * 100 * 4
    assert not np.any(variables["params"]["latent_memory"])


def test_the_hyper_decoder_computes_the_multiplicative_filter_formula():
    model = build_model(
        "phirom",
        {
            "out_channels": 2,
            "latent_dim": 3,
            "decoder": "hyper",
            "decoder_width": 6,
            "decoder_depth": 3,
        },
    )
    variables = _init(model, 2, seed=1)
    p = jax.tree.map(np.asarray, variables["params"]["decoder_net"])
    coords = np.random.default_rng(0).normal(size=(2, 7, 2))
    latent = np.random.default_rng(1).normal(size=(2, 3))
    out = np.asarray(model.apply(variables, jnp.asarray(coords), jnp.asarray(latent)))

    def g(i, x):
        z = x @ p[f"filter_{i}"]
        return np.concatenate([np.sin(z), np.cos(z)], axis=-1)

    for b in range(2):
        x, a = coords[b], latent[b]
        h = (a @ p["shift_0"]["kernel"] + p["bias_0"]) * g(0, x)
        for i in (1, 2):
            layer = p[f"layer_{i}"]
            h = (h @ layer["kernel"] + layer["bias"] + a @ p[f"shift_{i}"]["kernel"]) * g(i, x)
        expected = h @ p["output"]["kernel"] + p["output"]["bias"]
        np.testing.assert_allclose(out[b], expected, rtol=1e-5, atol=1e-5)
    # The reference's initialisation: He-uniform filters and hidden kernels.
    bound = math.sqrt(6 / 2)
    assert np.abs(p["filter_0"]).max() <= bound and np.abs(p["filter_0"]).max() > 0.5 * bound
    assert np.abs(p["layer_1"]["kernel"]).max() <= math.sqrt(6 / 6)
    assert np.abs(p["shift_0"]["kernel"]).max() <= 1 / math.sqrt(3)


def test_coordinates_are_mapped_to_the_unit_box():
    model = build_model("phirom", BURGERS)
    variables = _init(model, 1)
    x = jnp.linspace(0, 100, 9).reshape(1, 9, 1)
    latent = jnp.ones((1, 4))
    plain = PhiROM(**{**BURGERS, "coords_low": (), "coords_high": ()})
    np.testing.assert_allclose(
        model.apply(variables, x, latent), plain.apply(variables, x / 50 - 1, latent), atol=1e-6
    )


def test_the_decoder_output_is_scaled_to_the_field():
    model = build_model("phirom", {**BURGERS, "field_mean": (2.0,), "field_std": (0.5,)})
    variables = _init(model, 1)
    x = jnp.linspace(0, 100, 9).reshape(1, 9, 1)
    latent = jnp.ones((1, 4))
    unit = build_model("phirom", BURGERS).apply(variables, x, latent)
    np.testing.assert_allclose(model.apply(variables, x, latent), 0.5 * unit + 2.0, rtol=1e-6)


def test_the_dynamics_sees_normalised_parameters():
    model = build_model("phirom", BURGERS)
    variables = _init(model, 1)
    latent = jax.random.normal(jax.random.PRNGKey(2), (3, 4))
    mu = jnp.array([[0.015], [0.02], [0.03]])
    raw = PhiROM(**{**BURGERS, "params_mean": (), "params_std": ()})
    ours = model.apply(variables, latent, mu, method=PhiROM.velocity)
    expected = raw.apply(variables, latent, (mu - 0.0225) / 0.0049, method=PhiROM.velocity)
    np.testing.assert_allclose(ours, expected, rtol=1e-6)
    # The parameters matter, and beta starts at 0.5 in every swish.
    other = model.apply(variables, latent, mu + 0.01, method=PhiROM.velocity)
    assert float(jnp.max(jnp.abs(other - ours))) > 1e-4
    betas = [v["beta"] for k, v in variables["params"]["dynamics"].items() if "swish" in k]
    assert len(betas) == 4 and all(float(b) == 0.5 for b in betas)


@jax.enable_x64(True)
def test_the_rollout_is_third_order_and_forward_differentiable():
    model = build_model("phirom", {**BURGERS, "n_trajectories": 1, "n_times": 1})
    variables = jax.tree.map(lambda a: a.astype(jnp.float64), _init(model, 1))
    latent0 = jnp.asarray(np.random.default_rng(3).normal(size=(2, 4)))
    mu = jnp.array([[0.02], [0.025]])
    reference = latent_rollout(
        model,
        variables,
        latent0,
        jnp.linspace(0, 1, 5),
        mu,
        solver=diffrax.Tsit5(),
        stepsize_controller=diffrax.PIDController(rtol=1e-12, atol=1e-12),
        dt0=1e-3,
    )
    errors = []
    for n in (4, 8, 16):
        times = jnp.linspace(0, 1, n + 1)
        rollout = latent_rollout(model, variables, latent0, times, mu)
        assert rollout.shape == (2, n + 1, 4)
        np.testing.assert_array_equal(rollout[:, 0], latent0)
        errors.append(float(jnp.max(jnp.abs(rollout[:, -1] - reference[:, -1]))))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(orders > 2.7), (errors, orders)

    def end(latent):
        return latent_rollout(
            model, variables, latent, jnp.linspace(0, 1, 5), mu, adjoint=diffrax.ForwardMode()
        )[:, -1]

    v = jnp.asarray(np.random.default_rng(4).normal(size=(2, 4)))
    _, tangent = jax.jvp(end, (latent0,), (v,))
    eps = 1e-6
    np.testing.assert_allclose(
        tangent, (end(latent0 + eps * v) - end(latent0 - eps * v)) / (2 * eps), rtol=1e-6
    )


def test_bad_input_is_named():
    model = build_model("phirom", BURGERS)
    variables = _init(model, 1)
    with pytest.raises(ValueError, match="takes 1 PDE parameters; got z of shape None"):
        model.apply(variables, jnp.zeros((2, 4)), None, method=PhiROM.velocity)
    with pytest.raises(ValueError, match=r"latents \[batch, 4\]"):
        model.apply(variables, jnp.zeros((2, 5, 1)), jnp.zeros((2, 3)))
    with pytest.raises(ValueError, match="built for 1D coordinates; got 2D"):
        model.apply(variables, jnp.zeros((2, 5, 2)), jnp.zeros((2, 4)))
    for bad, message in (
        ({"decoder": "siren"}, "decoder must be one of"),
        ({"ode_solver": "Bosh4"}, "'Bosh4' is not a diffrax solver"),
        ({"params_std": ()}, "need one value per PDE parameter"),
        ({"decoder": "hyper", "decoder_width": 7}, "width must be even"),
        ({"coords_high": (1.0, 2.0)}, "one bound per axis"),
        ({"field_mean": (0.0, 1.0), "field_std": (1.0, 1.0)}, "one value per channel"),
    ):
        with pytest.raises(HyperparameterError, match=message):
            build_model("phirom", {**BURGERS, **bad})
