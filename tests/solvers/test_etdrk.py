import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.solvers import PeriodicGrid
from opjax.solvers.etdrk import ETDRK, SemiLinearTerm

LAMBDA = np.array([-1.0, -4.0, -0.5, -20.0])
U0 = np.array([0.5, 0.3, -0.4, 0.8])


def bernoulli_exact(t):
    """u' = lambda u + u^2: with v = 1/u, v' = -lambda v - 1, v = (v0 + 1/l) e^{-l t} - 1/l."""
    v0 = 1.0 / U0
    return 1.0 / ((v0 + 1.0 / LAMBDA) * np.exp(-LAMBDA * t) - 1.0 / LAMBDA)


def solve(order, dt, t1=1.0):
    term = SemiLinearTerm(jnp.asarray(LAMBDA), lambda t, y, args: y**2)
    sol = diffrax.diffeqsolve(
        term,
        ETDRK(order, dt),
        t0=0.0,
        t1=t1,
        dt0=dt,
        y0=jnp.asarray(U0),
        saveat=diffrax.SaveAt(t1=True),
        stepsize_controller=diffrax.ConstantStepSize(),
    )
    return np.asarray(sol.ys[-1])


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_measured_convergence_order(order):
    """Log-log slope of the error at t = 1 against the step, within 0.3 of the order."""
    with jax.enable_x64(True):
        steps = np.array([0.2, 0.1, 0.05, 0.025])
        errors = [np.max(np.abs(solve(order, dt) - bernoulli_exact(1.0))) for dt in steps]
    slope = np.polyfit(np.log(steps), np.log(errors), 1)[0]
    assert abs(slope - order) < 0.3, (order, slope, errors)


def test_diffusion_is_exact_for_any_step_including_a_short_last_one():
    """u_t = nu u_xx on a periodic grid: ETDRK4 reproduces exp(-nu k^2 t) to rounding."""
    with jax.enable_x64(True):
        grid = PeriodicGrid((32,), 1.0)
        nu, k = 0.01, 2 * np.pi * 3
        x = grid.coordinates(jnp.float64)[..., 0]
        term = SemiLinearTerm(nu * grid.laplacian_symbol(jnp.float64), _no_nonlinearity, grid)
        sol = diffrax.diffeqsolve(
            term,
            ETDRK(4, 0.3),
            t0=0.0,
            t1=1.0,
            dt0=0.3,
            y0=jnp.sin(k * x),
            saveat=diffrax.SaveAt(t1=True),
        )
        expected = np.exp(-nu * k**2) * np.sin(k * np.asarray(x))
        np.testing.assert_allclose(np.asarray(sol.ys[-1]), expected, atol=1e-13)


def _no_nonlinearity(t, y_hat, args):
    return jnp.zeros_like(y_hat)


def test_unknown_order_is_an_error():
    with pytest.raises(ValueError, match="order must be 1, 2, 3 or 4; got 5"):
        ETDRK(5, 0.1)


def _diffusion(nu, order=4, dt=0.1, solver=None, controller=None):
    grid = PeriodicGrid((32,), 1.0)
    x = grid.coordinates(jnp.float64)[..., 0]
    u0 = jnp.sin(2 * np.pi * 3 * x) + 0.5 * jnp.cos(2 * np.pi * x)
    # Burgers-like nonlinearity so that the gradient test is not purely linear.
    k = grid.wavenumbers(jnp.float64)[0]

    def nonlinear(t, u_hat, args):
        u = grid.irfft(u_hat)
        return -0.5j * k * grid.rfft(u * u)

    term = SemiLinearTerm(nu * grid.laplacian_symbol(jnp.float64), nonlinear, grid)
    sol = diffrax.diffeqsolve(
        term,
        solver or ETDRK(order, dt),
        t0=0.0,
        t1=0.5,
        dt0=dt,
        y0=u0,
        saveat=diffrax.SaveAt(t1=True),
        stepsize_controller=controller or diffrax.ConstantStepSize(),
    )
    return sol.ys[-1]


def test_same_term_runs_with_diffrax_tsit5_and_agrees_with_etdrk4():
    with jax.enable_x64(True):
        etd = _diffusion(0.05, dt=0.005)
        tsit5 = _diffusion(
            0.05,
            dt=0.001,
            solver=diffrax.Tsit5(),
            controller=diffrax.PIDController(rtol=1e-10, atol=1e-10),
        )
        np.testing.assert_allclose(np.asarray(etd), np.asarray(tsit5), atol=1e-8)


def test_gradient_through_a_solve_matches_finite_differences():
    with jax.enable_x64(True):

        def loss(nu):
            return jnp.sum(_diffusion(nu, dt=0.05) ** 2)

        grad = jax.jit(jax.grad(loss))(0.05)
        eps = 1e-6
        fd = (loss(0.05 + eps) - loss(0.05 - eps)) / (2 * eps)
        np.testing.assert_allclose(float(grad), float(fd), rtol=1e-6)


def test_float32_steps_off_dt_by_time_rounding_use_the_tabulated_weights():
    """Near t = 100, float32 ``t1 - t0`` misses ``dt`` by ~1e-6 relative; such a step must
    be the ``dt`` step (same weights, same h), not a recomputed one."""
    term = SemiLinearTerm(jnp.asarray(LAMBDA, jnp.float32), lambda t, y, args: y**2)
    solver = ETDRK(4, 0.1)
    y0 = jnp.asarray(U0, jnp.float32)
    state = solver.init(term, 0.0, 0.1, y0, None)
    t0 = jnp.float32(100.0)
    t1 = t0 + jnp.float32(0.1)
    assert float(t1 - t0) != np.float32(0.1)  # the rounding this test is about
    near, *_ = solver.step(term, t0, t1, y0, None, state, made_jump=False)
    exact, *_ = solver.step(term, 0.0, jnp.float32(0.1), y0, None, state, made_jump=False)
    np.testing.assert_array_equal(np.asarray(near), np.asarray(exact))
    # A genuinely shorter step still gets its own weights.
    short, *_ = solver.step(term, 0.0, jnp.float32(0.05), y0, None, state, made_jump=False)
    assert not np.allclose(np.asarray(short), np.asarray(exact))
