"""The bounded finite-difference equations: discrete eigenmodes and steady states (exact),
convergence to the continuous solutions, conservation, boundary values, gradients."""

import math

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.solvers import DirichletDiffusion2D, UpwindBurgers, simulate


def _mode(n, p, q):
    i = np.arange(n + 2)
    s = lambda k: np.sin(k * np.pi * i / (n + 1))  # noqa: E731  (zero on the ring)
    return np.outer(s(p), s(q))


def _mode_rate(n, h, diffusivity, p, q):
    arg = lambda k: math.sin(k * math.pi / (2 * (n + 1))) ** 2  # noqa: E731
    return diffusivity * 4 / h**2 * (arg(p) + arg(q))


@jax.enable_x64(True)
@pytest.mark.parametrize("p, q", [(1, 1), (2, 3), (5, 1)])
def test_a_discrete_dirichlet_mode_is_an_eigenvector_and_euler_decays_it_exactly(p, q):
    n, h, diffusivity, dt, steps = 12, 0.5, 2.0, 0.01, 40
    equation = DirichletDiffusion2D(diffusivity, points=n, spacing=h)
    mode = _mode(n, p, q)
    rate = _mode_rate(n, h, diffusivity, p, q)
    np.testing.assert_allclose(equation.vector_field(0.0, mode), -rate * mode, atol=1e-12)
    u = simulate(equation, jnp.asarray(mode), [dt * steps], dt=dt)[-1]
    np.testing.assert_allclose(u, (1 - dt * rate) ** steps * mode, atol=1e-12)


def test_the_discrete_decay_rate_converges_at_second_order():
    """The slowest mode on ``[0, 1]^2`` decays at ``2 D pi^2`` in the continuum."""
    exact = 2 * 2.0 * math.pi**2
    errors = [abs(_mode_rate(n, 1 / (n + 1), 2.0, 1, 1) - exact) for n in (7, 15, 31, 63)]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    np.testing.assert_allclose(orders, 2.0, atol=0.05)


@jax.enable_x64(True)
def test_diffusion_holds_the_ring_at_zero_and_dissipates():
    equation = DirichletDiffusion2D(2.0, points=10, spacing=1.0)
    u0 = np.random.default_rng(0).uniform(0, 1, equation.shape)
    u0[0] = 5.0  # a ring that is not zero (a decoded state): the field sees zero there
    rate = equation.vector_field(0.0, jnp.asarray(u0))
    assert np.all(np.asarray(rate)[0] == 0) and np.all(np.asarray(rate)[:, -1] == 0)
    u0[0] = u0[-1] = u0[:, 0] = u0[:, -1] = 0.0
    trajectory = np.asarray(simulate(equation, jnp.asarray(u0), np.arange(1, 21) * 0.1, dt=0.1))
    energy = (trajectory**2).sum(axis=(1, 2))
    assert np.all(np.diff(energy) < 0) and energy[-1] < 0.5 * (u0**2).sum()
    assert np.all(trajectory[:, 0] == 0) and np.all(trajectory[:, :, -1] == 0)
    # Mass leaves through the boundary only: the interior mean falls monotonically.
    assert np.all(np.diff(trajectory.sum(axis=(1, 2))) < 0)


@jax.enable_x64(True)
def test_burgers_vector_field_vanishes_at_the_discrete_steady_state():
    equation = UpwindBurgers(0.02)
    steady = equation.steady_state(4.25)
    rate = equation.vector_field(0.0, steady)
    assert float(jnp.max(jnp.abs(rate))) < 1e-12
    assert float(steady[0]) == 4.25


@jax.enable_x64(True)
def test_burgers_steady_state_converges_at_first_order_to_the_continuous_one():
    """``q(x)^2 = q_0^2 + 2 (a / mu) (exp(mu x) - 1)``: the upwind scheme is first order."""
    mu, a, q0 = 0.025, 0.02, 4.25
    errors = []
    for n in (65, 129, 257, 513):
        equation = UpwindBurgers(mu, points=n)
        x = equation.coordinates()
        exact = np.sqrt(q0**2 + 2 * a / mu * (np.exp(mu * x) - 1))
        errors.append(np.max(np.abs(np.asarray(equation.steady_state(q0)) - exact)))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    np.testing.assert_allclose(orders, 1.0, atol=0.05)


@jax.enable_x64(True)
def test_burgers_mass_changes_by_the_fluxes_and_the_source():
    """``d/dt sum_{i>=1} q_i dx = q_0^2 / 2 - q_{N-1}^2 / 2 + dx sum_{i>=1} a exp(mu x_i)``."""
    equation = UpwindBurgers(0.03, points=64, length=10.0)
    q = jnp.asarray(np.random.default_rng(1).uniform(1, 4, 64))
    rate = equation.vector_field(0.0, q)
    dx = equation.spacing
    balance = q[0] ** 2 / 2 - q[-1] ** 2 / 2 + dx * jnp.sum(equation.source()[1:])
    np.testing.assert_allclose(dx * jnp.sum(rate[1:]), balance, rtol=1e-12)
    assert float(rate[0]) == 0.0


@jax.enable_x64(True)
def test_burgers_from_rest_settles_to_the_steady_state_with_the_inflow_held():
    equation = UpwindBurgers(0.02)
    u0 = jnp.ones(256).at[0].set(4.25)
    trajectory = simulate(equation, u0, [10.0, 150.0], dt=0.07)
    assert np.all(np.asarray(trajectory[:, 0]) == 4.25)
    np.testing.assert_allclose(trajectory[-1], equation.steady_state(4.25), atol=1e-8)
    # Early on, a front moves in at the Rankine-Hugoniot speed of about (4.25 + 1) / 2.
    front = equation.coordinates()[int(np.argmax(np.asarray(trajectory[0]) < 2.5))]
    assert 20 < front < 35


@jax.enable_x64(True)
def test_gradients_through_both_solvers_match_finite_differences():
    def burgers_end(mu):
        u0 = jnp.ones(32).at[0].set(2.0)
        return jnp.sum(simulate(UpwindBurgers(mu, points=32, length=10.0), u0, [2.0], dt=0.05))

    def diffusion_end(d):
        u0 = jnp.asarray(_mode(6, 1, 2) + _mode(6, 2, 1) ** 2)
        out = simulate(DirichletDiffusion2D(d, points=6, spacing=1.0), u0, [1.0], dt=0.05)
        return jnp.sum(out**2)

    for f, x in ((burgers_end, 0.03), (diffusion_end, 0.7)):
        eps = 1e-6
        fd = (f(x + eps) - f(x - eps)) / (2 * eps)
        np.testing.assert_allclose(jax.grad(f)(x), fd, rtol=1e-6)


def test_an_imex_solver_is_refused_for_a_single_vector_field():
    with pytest.raises(ValueError, match="only a SemiLinearEquation has"):
        simulate(UpwindBurgers(0.02), jnp.ones(256), [1.0], dt=0.1, solver=diffrax.KenCarp4())
