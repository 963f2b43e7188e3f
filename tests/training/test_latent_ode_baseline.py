"""The data-only (DINo-style) baseline: its teacher-forcing schedule, its unroll against
diffrax's own Bosh3 integration, and which parameters each of its terms trains."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.models import build_model, latent_rollout
from opjax.training.latent_ode_baseline import (
    latent_ode_objective,
    latent_unroll,
    teacher_forcing_probability,
)

HPARAMS = {
    "out_channels": 1,
    "latent_dim": 3,
    "decoder_width": 8,
    "decoder_depth": 2,
    "dynamics_width": 8,
    "dynamics_depth": 2,
    "n_params": 1,
    "n_trajectories": 2,
    "n_times": 4,
    "coords_low": (0.0,),
    "coords_high": (1.0,),
    "field_mean": (1.0,),
    "field_std": (2.0,),
}
TIMES = jnp.array([0.0, 0.1, 0.2, 0.3])


@pytest.fixture(scope="module")
def setup():
    model = build_model("phirom", HPARAMS)
    variables = model.init(jax.random.PRNGKey(0), *model.init_inputs())
    memory = jax.random.normal(jax.random.PRNGKey(1), (2, 4, 3))
    variables = {"params": {**variables["params"], "latent_memory": memory}}
    return model, variables


def test_teacher_forcing_decays_every_interval_and_stops_below_a_thousandth():
    p = teacher_forcing_probability(jnp.array([0, 19, 20, 45, 100000]), 0.99, 0.99, 20)
    np.testing.assert_allclose(p[:4], [0.99, 0.99, 0.99**2, 0.99**3], rtol=1e-6)
    assert p[4] == 0.0


def test_unroll_without_forcing_is_the_bosh3_rollout_at_the_data_step(setup):
    model, variables = setup
    latents = variables["params"]["latent_memory"]
    mu = jnp.array([[0.2], [0.7]])
    free = latent_unroll(
        model, variables, latents, TIMES, jnp.array([True, False, False, False]), mu
    )
    rollout = latent_rollout(model, variables, latents[:, 0], TIMES, mu)
    np.testing.assert_allclose(free, rollout, rtol=1e-5, atol=1e-6)


def test_unroll_with_forcing_restarts_every_step_from_the_data(setup):
    model, variables = setup
    latents = variables["params"]["latent_memory"]
    mu = jnp.array([[0.2], [0.7]])
    forced = latent_unroll(model, variables, latents, TIMES, jnp.ones(4, bool), mu)
    np.testing.assert_array_equal(forced[:, 0], latents[:, 0])
    for i in range(3):
        one_step = latent_rollout(model, variables, latents[:, i], TIMES[i : i + 2], mu)[:, 1]
        np.testing.assert_allclose(forced[:, i + 1], one_step, rtol=1e-5, atol=1e-6)


def test_each_term_trains_only_its_own_parameters(setup):
    model, variables = setup
    coords = jnp.linspace(0.0, 1.0, 5)[:, None]
    batch = {
        "y": jax.random.normal(jax.random.PRNGKey(2), (2, 4, 5, 1)),
        "index": jnp.array([1, 0]),
        "params": jnp.array([[0.2], [0.7]]),
        "weight": jnp.ones(2),
        "step": jnp.array(0),
    }
    objective = latent_ode_objective(model, coords, TIMES, steps_per_epoch=1)
    grads = jax.grad(lambda p: objective({"params": p}, batch, jax.random.PRNGKey(3))[0])(
        variables["params"]
    )
    # Without data in the batch, only the dynamics network can change the loss.
    still = {
        **batch,
        "y": model.apply(
            variables,
            jnp.broadcast_to(coords, (8, 5, 1)),
            variables["params"]["latent_memory"][batch["index"]].reshape(8, 3),
            method=type(model).decode,
        ).reshape(2, 4, 5, 1),
    }
    exact = jax.grad(lambda p: objective({"params": p}, still, jax.random.PRNGKey(3))[0])(
        variables["params"]
    )
    assert all(np.all(g == 0) for g in jax.tree.leaves(exact["decoder_net"]))
    assert np.all(exact["latent_memory"] == 0)
    assert any(np.any(g != 0) for g in jax.tree.leaves(exact["dynamics"]))
    # With data, the reconstruction term moves the decoder and the batch's latents only.
    assert any(np.any(g != 0) for g in jax.tree.leaves(grads["decoder_net"]))
    assert np.any(grads["latent_memory"] != 0)
