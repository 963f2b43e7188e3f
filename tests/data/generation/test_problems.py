"""Every generator on a tiny grid: shapes, finiteness and the physics of its problem."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.data.generation import PROBLEMS, sample_keys
from opjax.solvers import random_fourier_series

TINY = {
    "advection1d": {"points": 64, "n_times": 6},
    "allen_cahn": {"solver_points": 32, "points": 16, "n_times": 3, "t_end": 1.0},
    "burgers1d": {"solver_points": 256, "points": 64, "n_times": 3},
    "darcy2d": {"solver_points": 33, "points": 17},
    "ks1d": {"points": 64, "n_times": 6},
    "ns2d_kolmogorov": {"solver_points": 32, "points": 16, "burn_in": 0.5, "n_times": 3},
}


def draw(name, n=2, **changes):
    problem = PROBLEMS[name].build({**PROBLEMS[name].DEFAULTS, **TINY[name], **changes})
    with jax.enable_x64(True):
        out = jax.jit(jax.vmap(problem.sample))(sample_keys(0, "train", 0, n))
        return problem, jax.device_get(out)


def test_tiny_sets_cover_every_problem():
    assert set(TINY) == set(PROBLEMS)


@pytest.mark.parametrize("name", sorted(TINY))
def test_shapes_and_finiteness(name):
    problem, out = draw(name)
    for key, values in out.items():
        assert np.isfinite(values).all(), key
        group, field = key.split("/")
        if group == "fields":
            time_axis = (len(problem.times),) if field in problem.time_dependent else ()
            grid = tuple(len(c) for c in problem.coordinates.values()) or (TINY[name]["points"],)
            assert values.shape == (2, *time_axis, *grid), key
            assert np.std(values) > 0, key


def test_advection_is_the_exact_shift_of_the_initial_condition():
    problem, out = draw("advection1d")
    u, x = out["fields/u"], problem.coordinates["x"]
    u0_hat = np.fft.rfft(u[:, 0])
    k = 2 * np.pi * np.fft.rfftfreq(64, 1 / 64)
    for j, t in enumerate(problem.times):
        shifted = np.fft.irfft(u0_hat * np.exp(-1j * k * 0.4 * t), 64)
        np.testing.assert_allclose(u[:, j], shifted, atol=1e-10)
    assert x[1] == pytest.approx(1 / 64)


def test_burgers_starts_from_the_field_of_its_key_and_conserves_the_mean():
    _, out = draw("burgers1d", points=256)  # not subsampled: the grid mean is exact
    u = out["fields/u"]
    np.testing.assert_allclose(u.mean(axis=-1), 0.0, atol=1e-12)  # GRF: zero mean mode
    assert np.abs(u[:, -1]).max() < np.abs(u[:, 0]).max()  # viscous decay


def test_ks_draws_a_domain_per_sample_and_keeps_the_mean():
    _, out = draw("ks1d", n=4)
    lengths = out["params/domain_length"]
    assert np.all((lengths >= 57.6) & (lengths <= 70.4)) and len(set(lengths)) == 4
    np.testing.assert_allclose(out["coordinates/x"][:, 1], lengths / 64)
    u = out["fields/u"]
    np.testing.assert_allclose(u.mean(axis=-1) - u[:, :1].mean(axis=-1), 0.0, atol=1e-10)
    # The initial condition is the sine series of the sample's key, whatever the domain.
    key = jax.random.split(sample_keys(0, "train", 0, 4)[0])[1]
    from opjax.solvers import PeriodicGrid

    with jax.enable_x64(True):
        u0 = random_fourier_series(key, PeriodicGrid((64,), 64.0), 10, 2, 0.5, jnp.float64)
    np.testing.assert_allclose(u[0, 0], u0, atol=1e-12)


def test_darcy_has_two_valued_permeability_and_a_positive_solution():
    _, out = draw("darcy2d")
    a, u = out["fields/a"], out["fields/u"]
    assert set(np.unique(a)) == {3.0, 12.0}
    boundary = np.concatenate([u[:, 0], u[:, -1], u[:, :, 0], u[:, :, -1]], axis=-1)
    assert np.all(boundary == 0) and np.all(u[:, 1:-1, 1:-1] > 0)


def test_navier_stokes_vorticity_has_zero_mean():
    _, out = draw("ns2d_kolmogorov", points=32)  # not subsampled: the grid mean is exact
    np.testing.assert_allclose(out["fields/vorticity"].mean(axis=(-2, -1)), 0.0, atol=1e-10)
