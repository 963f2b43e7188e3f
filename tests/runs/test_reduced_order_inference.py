"""Reduced-order inference: the fitted initial latent decodes to the observation, from the
whole grid or a few points, and trajectories are the decoded latent rollout."""

import jax
import jax.numpy as jnp
import numpy as np

from opjax.models import PhiROM, build_model, latent_rollout
from opjax.runs.reduced_order_inference import (
    decoded_trajectory,
    fit_initial_latent,
    observed_points,
    uniform_grid,
)

HPARAMS = {
    "out_channels": 1,
    "latent_dim": 2,
    "decoder_width": 16,
    "decoder_depth": 2,
    "dynamics_width": 8,
    "dynamics_depth": 2,
    "n_trajectories": 1,
    "n_times": 1,
    "coords_low": (0.0,),
    "coords_high": (1.0,),
}


def _model():
    model = build_model("phirom", HPARAMS)
    return model, model.init(jax.random.PRNGKey(0), *model.init_inputs())


def test_uniform_grid_holds_each_axis_as_its_array_axis():
    grid = uniform_grid([0.0, -1.0], [2.0, 1.0], (3, 5))
    assert grid.shape == (3, 5, 2)
    np.testing.assert_allclose(grid[:, 0, 0], [0.0, 1.0, 2.0])
    np.testing.assert_allclose(grid[0, :, 1], np.linspace(-1.0, 1.0, 5))


def test_observed_points_are_distinct_fixed_and_differ_between_snapshots():
    first = np.asarray(observed_points(jnp.arange(3), 50, 5))
    again = np.asarray(observed_points(jnp.arange(3), 50, 5))
    np.testing.assert_array_equal(first, again)
    assert all(len(set(row)) == 5 for row in first) and first.max() < 50
    assert len({tuple(sorted(row)) for row in first}) == 3


def test_the_fitted_latent_reproduces_the_observed_state():
    model, variables = _model()
    x = jnp.broadcast_to(jnp.linspace(0.0, 1.0, 64)[None, :, None], (2, 64, 1))
    truth = jnp.array([[0.8, -0.5], [-0.3, 0.6]])
    u0 = model.apply(variables, x, truth, method=PhiROM.decode)
    latent = fit_initial_latent(model, variables, x, u0, 400, 0.05)
    fitted = model.apply(variables, x, latent, method=PhiROM.decode)
    untouched = model.apply(variables, x, jnp.zeros_like(truth), method=PhiROM.decode)
    misfit = float(jnp.mean((fitted - u0) ** 2))
    assert misfit < 1e-4 * float(jnp.mean((untouched - u0) ** 2))
    # Four of the 64 points are enough to pin down two latent numbers.
    sparse = fit_initial_latent(model, variables, x[:, ::16], u0[:, ::16], 400, 0.05)
    decoded = model.apply(variables, x, sparse, method=PhiROM.decode)
    assert float(jnp.mean((decoded - u0) ** 2)) < 1e-2 * float(jnp.mean((untouched - u0) ** 2))


def test_decoded_trajectory_is_the_decoded_latent_rollout():
    model, variables = _model()
    latent0 = jnp.array([[0.3, -0.2]])
    times = jnp.linspace(0.0, 1.0, 6)
    coords = jnp.linspace(0.0, 1.0, 9)[None, :, None]
    out = decoded_trajectory(model, variables, latent0, times, coords)
    latents = latent_rollout(model, variables, latent0, times)[0]
    expected = model.apply(variables, jnp.repeat(coords, 6, 0), latents, method=PhiROM.decode)
    assert out.shape == (1, 6, 9, 1)
    np.testing.assert_allclose(out[0], expected, rtol=1e-5, atol=1e-6)
