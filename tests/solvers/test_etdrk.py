import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from diffrax._term import WrapTerm

from opjax.solvers import KortewegDeVries, PeriodicGrid
from opjax.solvers.etdrk import ETDRK, SemiLinearTerm

LAMBDA = np.array([-1.0, -4.0, -0.5, -20.0])
U0 = np.array([0.5, 0.3, -0.4, 0.8])


def bernoulli_exact(t):
    """u' = lambda u + u^2: with v = 1/u, v' = -lambda v - 1, v = (v0 + 1/l) e^{-l t} - 1/l."""
    v0 = 1.0 / U0
    return 1.0 / ((v0 + 1.0 / LAMBDA) * np.exp(-LAMBDA * t) - 1.0 / LAMBDA)


def _square(t, y, args):
    return y**2


def solve(term, order, t0, t1, dt, y0, args=None):
    """``y(t1)`` from ``y(t0) = y0`` in steps of length ``dt`` (backward when ``t1 < t0``).

    Times and steps are arrays, so solves differing only in them (the direction too) share
    one compilation.
    """
    sol = diffrax.diffeqsolve(
        term,
        ETDRK(order, jnp.asarray(dt)),
        t0=jnp.asarray(t0),
        t1=jnp.asarray(t1),
        dt0=jnp.asarray(np.sign(t1 - t0) * dt),
        y0=jnp.asarray(y0),
        args=args,
        saveat=diffrax.SaveAt(t1=True),
        stepsize_controller=diffrax.ConstantStepSize(),
    )
    return np.asarray(sol.ys[-1])


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_measured_convergence_order_forward_and_backward(order):
    """Log-log slope of the error against the step, within 0.3 of the order, for the forward
    solve ``U0 -> u(1)`` and the backward solve ``u(1) -> U0`` (exact ends), and the two
    slopes within 0.3 of each other on the same modes.

    Backward, the ``lambda = -20`` mode grows by ``e^{20}``: that amplifies its errors so
    much that steps of 0.2-0.025 are still pre-asymptotic (ETDRK1 reaches slope 0.85 only
    at 0.0125), so its slope is left out and only a decreasing error asked of it.
    """
    steps = np.array([0.2, 0.1, 0.05, 0.025])
    with jax.enable_x64(True):
        term = SemiLinearTerm(jnp.asarray(LAMBDA), _square)
        forward = [solve(term, order, 0.0, 1.0, dt, U0) - bernoulli_exact(1.0) for dt in steps]
        backward = [solve(term, order, 1.0, 0.0, dt, bernoulli_exact(1.0)) - U0 for dt in steps]
    forward, backward = np.abs(forward), np.abs(backward)  # [step, mode]

    def slope(errors):
        return np.polyfit(np.log(steps), np.log(errors.max(axis=1)), 1)[0]

    mild = np.abs(LAMBDA) < 10
    slopes = slope(forward), slope(forward[:, mild]), slope(backward[:, mild])
    assert all(abs(s - order) < 0.3 for s in slopes), (order, slopes)
    assert abs(slopes[1] - slopes[2]) < 0.3, (order, slopes)
    assert np.all(np.diff(backward[:, ~mild], axis=0) < 0), backward[:, ~mild]


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


@pytest.mark.parametrize("dt", [-0.1, 0.0])
def test_a_step_length_that_is_not_positive_is_an_error_naming_the_direction(dt):
    with pytest.raises(ValueError, match=rf"must be > 0; got dt={dt}.*t1 < t0 and dt0 = -dt"):
        ETDRK(4, dt)


def _forced(t, y, args):
    """``sign (u^2 + 0.1 sin(3 (shift + sign t)))`` for ``args = (sign, shift)``.

    ``(1, 0)`` is ``N(t, u) = u^2 + 0.1 sin(3 t)`` (time-dependent, so wrong stage times
    would show); ``(-1, T)`` is ``-N(T - s, v)``, the nonlinearity of the time-reversed
    equation for ``v(s) = u(T - s)``. One function for both keeps to one compilation.
    """
    sign, shift = args
    return sign * (y**2 + 0.1 * jnp.sin(3 * (shift + sign * t)))


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_backward_solve_is_the_forward_solve_of_the_time_reversed_equation(order):
    """``u' = L u + N(t, u)`` from ``t = 1`` back to 0 in steps ``-0.3`` (the last one
    ``-0.1``) against ``v' = -L v - N(1 - s, v)`` from ``s = 0`` to 1: the schemes agree
    step by step, so the results agree to rounding (1e-12). (``L = -20`` is left out: there
    backward ``u`` saturates near 20, where ``u^2`` is too stiff for explicit steps of 0.3.)
    """
    linear, u1 = np.array([-1.0, -4.0, -0.5, 2.0]), np.abs(U0)
    with jax.enable_x64(True):
        term = SemiLinearTerm(jnp.asarray(linear), _forced)
        backward = solve(term, order, 1.0, 0.0, 0.3, u1, jnp.array([1.0, 0.0]))
        reversed_term = SemiLinearTerm(jnp.asarray(-linear), _forced)
        forward = solve(reversed_term, order, 0.0, 1.0, 0.3, u1, jnp.array([-1.0, 1.0]))
    np.testing.assert_allclose(backward, forward, rtol=1e-12)
    assert np.max(np.abs(backward - u1)) > 1, backward  # the solve did move the state


def test_kdv_forward_then_backward_recovers_the_initial_soliton():
    """KdV (``L = i k^3``: backward is as well posed as forward) with ETDRK4, ``dt = 0.05``:
    a soliton moved by ``u(2) - u(0) ~ 0.33`` comes back to ``u(0)`` within ``1e-5``, and the
    backward solve from the exact ``u(2)`` is as accurate as the forward one (error ratio
    within 2; both ~2e-6)."""
    length, n, c, x0, t1, dt = 40.0, 96, 1.0, 15.0, 2.0, 0.05
    x = np.arange(n) * length / n

    def soliton(t):
        return 0.5 * c / np.cosh(0.5 * np.sqrt(c) * (x - c * t - x0)) ** 2

    with jax.enable_x64(True):
        term = KortewegDeVries(PeriodicGrid((n,), length)).term()
        forward = solve(term, 4, 0.0, t1, dt, soliton(0.0))
        round_trip = solve(term, 4, t1, 0.0, dt, forward)
        backward = solve(term, 4, t1, 0.0, dt, soliton(t1))
    forward_error = np.max(np.abs(forward - soliton(t1)))
    backward_error = np.max(np.abs(backward - soliton(0.0)))
    assert np.max(np.abs(round_trip - soliton(0.0))) < 1e-5
    assert forward_error < 1e-5 and 0.5 < backward_error / forward_error < 2, (
        forward_error,
        backward_error,
    )


def test_backward_diffusion_over_a_short_time_undoes_the_decay():
    """``u_t = nu u_xx`` backward from ``e^{-nu k^2 T} sin(k x)`` at ``T = 0.1`` in steps
    ``-0.03`` (the last ``-0.01``): ETDRK4 returns ``sin(k x)`` to ``1e-10``. Well posed
    only for short times: rounding in the top mode grows by ``e^{nu k_max^2 T} ~ e^{10}``
    here, by ``e^{100}`` at ``T = 1``."""
    nu, k, t1 = 0.01, 2 * np.pi * 3, 0.1
    with jax.enable_x64(True):
        grid = PeriodicGrid((32,), 1.0)
        x = np.asarray(grid.coordinates(jnp.float64)[..., 0])
        term = SemiLinearTerm(nu * grid.laplacian_symbol(jnp.float64), _no_nonlinearity, grid)
        u0 = solve(term, 4, t1, 0.0, 0.03, np.exp(-nu * k**2 * t1) * np.sin(k * x))
    np.testing.assert_allclose(u0, np.sin(k * x), atol=1e-10)


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
    # Backward, diffrax hands the solver -t: t = 100.1 -> 100 is the tabulated -dt step,
    # which is the dt step of the time-reversed equation u' = -lambda u - u^2.
    backward = WrapTerm(term, jnp.asarray(-1))
    state = solver.init(backward, -0.1, 0.0, y0, None)
    near, *_ = solver.step(backward, -t1, -t0, y0, None, state, made_jump=False)
    exact, *_ = solver.step(backward, -jnp.float32(0.1), 0.0, y0, None, state, made_jump=False)
    np.testing.assert_array_equal(np.asarray(near), np.asarray(exact))
    reversed_term = SemiLinearTerm(-term.linear, lambda t, y, args: -(y**2))
    state = solver.init(reversed_term, 0.0, 0.1, y0, None)
    forward, *_ = solver.step(reversed_term, 0.0, jnp.float32(0.1), y0, None, state, False)
    np.testing.assert_allclose(np.asarray(exact), np.asarray(forward), rtol=1e-6)
