"""Every generator on a tiny grid: shapes, finiteness and the physics of its problem."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.data.generation import PROBLEMS, sample_keys
from opjax.solvers import random_fourier_series

TINY = {
    "advection1d": {"points": 64, "n_times": 6},
    "apebench1d": {"points": 32, "n_times": 4, "a2": 0.01, "convection": 0.5},
    "allen_cahn": {"solver_points": 32, "points": 16, "n_times": 3, "t_end": 1.0},
    "burgers1d": {"solver_points": 256, "points": 64, "n_times": 3},
    "burgers_source1d": {"points": 32, "n_times": 5, "spin_up_time": 0.7},
    "diffusion2d_dirichlet": {"points": 8, "n_times": 4},
    "darcy2d": {"solver_points": 33, "points": 17},
    "darcy_mesh": {"refinements": 1, "boundary_std": 1.0},
    "poisson_mesh": {"refinements": 1, "degree": 2},
    "ks1d": {"points": 64, "n_times": 6},
    "ns2d_kolmogorov": {"solver_points": 32, "points": 16, "burn_in": 0.5, "n_times": 3},
}


def draw(name, n=2, **changes):
    problem = PROBLEMS[name].build({**PROBLEMS[name].DEFAULTS, **TINY[name], **changes})
    with jax.enable_x64(True):
        keys = sample_keys(0, "train", 0, n)
        if problem.swept:
            out = jax.jit(jax.vmap(problem.sample))(keys, jnp.arange(n) / max(n - 1, 1))
        else:
            out = jax.jit(jax.vmap(problem.sample))(keys)
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
            if problem.mesh is not None:  # DOF vectors of a finite-element space
                grid = (problem.mesh.space.n_dofs,)
            else:
                grid = tuple(len(c) for c in problem.coordinates.values())
                grid = grid or (TINY[name]["points"],)
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


def _euler_upwind_burgers(q, mu, steps, dt=0.07, length=100.0, amplitude=0.02):
    """Forward Euler on the reference's residual_burgers, written out in numpy."""
    x = np.linspace(0.0, length, len(q))
    dx = x[1]
    states = [q]
    for _ in range(steps):
        padded = np.concatenate([q[:1], q])
        rate = -(0.5 * padded[1:] ** 2 - 0.5 * padded[:-1] ** 2) / dx + amplitude * np.exp(mu * x)
        rate[0] = 0.0
        q = q + dt * rate
        states.append(q)
    return np.stack(states)


def test_burgers_with_a_source_sweeps_mu_and_is_the_upwind_euler_solution():
    problem, out = draw("burgers_source1d", n=3, mu_low=0.015, mu_high=0.03)
    mu, u = out["params/mu"], out["fields/u"]
    np.testing.assert_allclose(mu, [0.015, 0.0225, 0.03], rtol=1e-12)
    np.testing.assert_array_equal(u[:, :, 0], 4.25)  # the inflow is held
    np.testing.assert_allclose(u[1:, 0], u[:1, 0].repeat(2, axis=0))  # one initial state
    # The initial state: q = 1 with the inflow set, spun up for 0.7 (10 steps) at mu 0.0225.
    flat = np.ones(32)
    flat[0] = 4.25
    np.testing.assert_allclose(u[0, 0], _euler_upwind_burgers(flat, 0.0225, 10)[-1], rtol=1e-12)
    for i in range(3):
        expected = _euler_upwind_burgers(u[i, 0], mu[i], 4)
        np.testing.assert_allclose(u[i], expected, rtol=1e-12)
    assert problem.rate_params == ("mu",)
    with jax.enable_x64(True):
        rate = problem.field_rate(jnp.asarray(u[2, 1])[:, None], jnp.asarray(mu[2:]))
    np.testing.assert_allclose(rate[:, 0], (u[2, 2] - u[2, 1]) / 0.07, rtol=1e-9, atol=1e-12)


def test_dirichlet_diffusion_starts_from_a_bump_and_is_the_ftcs_solution():
    problem, out = draw("diffusion2d_dirichlet", n=4)
    u = out["fields/u"]  # [n, T, 10, 10]
    assert u.shape == (4, 4, 10, 10)
    ring = np.concatenate([u[..., 0, :], u[..., -1, :], u[..., :, 0], u[..., :, -1]], axis=-1)
    np.testing.assert_array_equal(ring, 0.0)
    peaks = u[:, 0].max(axis=(-2, -1))
    assert np.all((peaks > 0) & (peaks <= 2.0)) and len(set(peaks)) == 4
    for k in range(3):
        c = u[:, k]
        lap = np.zeros_like(c)
        lap[:, 1:-1, 1:-1] = (
            c[:, 2:, 1:-1]
            + c[:, :-2, 1:-1]
            + c[:, 1:-1, 2:]
            + c[:, 1:-1, :-2]
            - 4 * c[:, 1:-1, 1:-1]
        )
        np.testing.assert_allclose(u[:, k + 1], c + 0.1 * 2.0 * lap, rtol=1e-12, atol=1e-14)
    assert np.all(np.diff(u.sum(axis=(-2, -1)), axis=1) < 0)  # mass leaves through the boundary
    with jax.enable_x64(True):
        rate = problem.field_rate(jnp.asarray(u[0, 0])[..., None], None)
    np.testing.assert_allclose(rate[..., 0], (u[0, 1] - u[0, 0]) / 0.1, rtol=1e-9, atol=1e-12)


def test_a_spectral_problem_on_its_solver_grid_has_its_equations_rate():
    problem, out = draw("advection1d", n=1, t_end=0.0002, n_times=3)
    u = out["fields/u"][0]  # [3, 64], 1e-4 apart, the exact shift of u[0]
    with jax.enable_x64(True):
        middle = problem.field_rate(jnp.asarray(u[1])[:, None], None)[:, 0]
    centred = (u[2] - u[0]) / 0.0002  # second order: error (beta k)^3 dt^2 / 6
    np.testing.assert_allclose(middle, centred, rtol=0, atol=3e-5 * np.abs(centred).max())
    burgers = PROBLEMS["burgers1d"]
    subsampled = burgers.build({**burgers.DEFAULTS, **TINY["burgers1d"]})
    assert subsampled.field_rate is None  # stored on every 4th solver point: no rate
