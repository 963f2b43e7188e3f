"""The generic equation of APEBench's scenarios against the named equations it contains,
the exact solution of its linear case, and APEBench's initial condition."""

import math

import jax
import jax.numpy as jnp
import numpy as np

from opjax.data.generation.problems import apebench1d
from opjax.solvers import (
    Burgers,
    GeneralConvection,
    KuramotoSivashinsky,
    PeriodicGrid,
    truncated_fourier_series,
)
from opjax.solvers.stepper import advance


def _u0(grid):
    return truncated_fourier_series(jax.random.PRNGKey(3), grid, 5)


def test_it_contains_burgers_and_kuramoto_sivashinsky():
    grid = PeriodicGrid((64,), 1.0)
    u = _u0(grid)
    burgers = advance(Burgers(grid, 0.01), u, 0.2, 20)
    general = advance(GeneralConvection(grid, (0.0, 0.0, 0.01), 1.0), u, 0.2, 20)
    np.testing.assert_allclose(general, burgers, rtol=1e-5, atol=1e-6)
    grid = PeriodicGrid((64,), 22.0)
    u = _u0(grid)
    ks = advance(KuramotoSivashinsky(grid), u, 1.0, 10)
    general = advance(GeneralConvection(grid, (0.0, 0.0, -1.0, 0.0, -1.0), 1.0), u, 1.0, 10)
    np.testing.assert_allclose(general, ks, rtol=1e-5, atol=1e-5)


def test_advection_diffusion_is_exact():
    """``u_t = a_1 u_x + a_2 u_xx``: the mode ``cos(k x)`` becomes
    ``e^{-a_2 k^2 t} cos(k (x + a_1 t))``."""
    grid = PeriodicGrid((160,), 1.0)
    x = grid.coordinates(jnp.float32)[..., 0]
    k = 2 * math.pi * 3
    a1, a2, t = -0.25, 0.008, 0.7
    u = advance(GeneralConvection(grid, (0.0, a1, a2)), jnp.cos(k * x), t, 1)
    exact = np.exp(-a2 * k**2 * t) * np.cos(k * (np.asarray(x) + a1 * t))
    np.testing.assert_allclose(u, exact, atol=2e-5)


def test_apebench_initial_condition():
    grid = PeriodicGrid((160,), 60.0)
    u = jax.vmap(lambda key: truncated_fourier_series(key, grid, 5))(
        jax.random.split(jax.random.PRNGKey(0), 16)
    )
    np.testing.assert_allclose(jnp.max(jnp.abs(u), axis=-1), 1.0, rtol=1e-6)
    spectrum = np.abs(np.fft.rfft(np.asarray(u, np.float64), axis=-1))
    assert np.all(spectrum[:, 0] < 1e-4)  # zero mean
    assert np.all(spectrum[:, 6:] < 1e-4)  # wavenumbers 1 to 5 only
    assert np.all(spectrum[:, 1:6].max(axis=-1) > 1.0)


def test_scenario_generator_saves_every_dt_after_the_warmup():
    p = {**apebench1d.DEFAULTS, "points": 32, "n_times": 4, "warmup_steps": 3, "a2": 0.01}
    problem = apebench1d.build(p)
    u = problem.sample(jax.random.PRNGKey(1))["fields/u"]
    grid = PeriodicGrid((32,), 1.0)
    equation = GeneralConvection(grid, (0.0, 0.0, 0.01))
    start = advance(equation, truncated_fourier_series(jax.random.PRNGKey(1), grid, 5), 0.3, 3)
    np.testing.assert_allclose(u[0], start, atol=1e-6)
    np.testing.assert_allclose(u[1], advance(equation, start, 0.1, 1), atol=1e-6)
    np.testing.assert_allclose(problem.times, [0.0, 0.1, 0.2, 0.3])
