"""One solver step between saved states: ``advance`` and ``Problem.stepper``."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.data.generation.problems import ks1d
from opjax.solvers import AdvectionDiffusion, KuramotoSivashinsky, PeriodicGrid, simulate
from opjax.solvers.stepper import advance


def _ks_problem(**changes):
    return ks1d.build(
        {
            **ks1d.DEFAULTS,
            "points": 64,
            "n_times": 6,
            "domain_jitter": 0.0,
            "domain_length": 22.0,
            **changes,
        }
    )


def test_advance_equals_a_diffrax_solve_with_the_same_steps():
    grid = PeriodicGrid((64,), 22.0)
    equation = KuramotoSivashinsky(grid)
    u0 = jnp.sin(2 * jnp.pi * jnp.arange(64) / 64) + 0.1 * jnp.cos(6 * jnp.pi * jnp.arange(64) / 64)
    stepped = advance(equation, u0, 0.4, 8)
    solved = simulate(equation, u0, np.array([0.4]), dt=0.05)[0]
    np.testing.assert_allclose(stepped, solved, rtol=0, atol=1e-5)


def test_advance_is_exact_for_a_linear_equation():
    grid = PeriodicGrid((32,), 1.0)
    equation = AdvectionDiffusion(grid, (0.25,), 0.01)
    x = jnp.arange(32) / 32
    u0 = jnp.sin(2 * jnp.pi * x)
    k = 2 * jnp.pi
    exact = jnp.exp(-0.01 * k**2 * 0.5) * jnp.sin(k * (x - 0.25 * 0.5))
    np.testing.assert_allclose(advance(equation, u0, 0.5, 1), exact, atol=1e-5)


def test_problem_stepper_reproduces_the_stored_trajectory():
    problem = _ks_problem()
    u = problem.sample(jax.random.PRNGKey(1))["fields/u"][..., None]  # [6, 64, 1]
    length = jnp.array([22.0])
    step = problem.stepper()
    np.testing.assert_allclose(step(u[0], length), u[1], atol=2e-5)
    np.testing.assert_allclose(problem.stepper(intervals=2)(u[0], length), u[2], atol=2e-5)
    half = problem.stepper(proportion=0.5)
    assert float(jnp.max(jnp.abs(half(u[0], length) - u[1]))) > 1e-3  # a coarse step


def test_bad_stepper_input_is_named():
    problem = _ks_problem()
    with pytest.raises(ValueError, match="substeps >= 1"):
        problem.stepper(substeps=0)
    with pytest.raises(ValueError, match="not on the solver's grid"):
        problem.stepper()(jnp.zeros((32, 1)), jnp.array([22.0]))
    with pytest.raises(ValueError, match="domain_length"):
        problem.check_rate_params([], "ks1d")
