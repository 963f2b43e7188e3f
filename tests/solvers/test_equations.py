"""Equations through `simulate`: analytic solutions, conservation, an independent reference."""

import math

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from opjax.solvers import (
    Advection,
    AdvectionDiffusion,
    AllenCahn,
    Burgers,
    Diffusion,
    KortewegDeVries,
    KuramotoSivashinsky,
    NavierStokes2D,
    PeriodicGrid,
    random_fourier_series,
    simulate,
)


@jax.enable_x64(True)
def test_advection_is_an_exact_shift():
    grid = PeriodicGrid((64,), 1.0)
    x = np.arange(64) / 64

    def profile(s):
        return np.sin(2 * np.pi * s) + 0.5 * np.cos(2 * np.pi * 3 * s)

    times = np.array([0.1, 0.35, 1.0])
    traj = simulate(Advection(grid, (1.0,)), jnp.asarray(profile(x)), times, dt=0.05)
    for t, u in zip(times, np.asarray(traj)):
        np.testing.assert_allclose(u, profile(x - t), atol=1e-12)


@jax.enable_x64(True)
def test_diffusion_decays_each_mode_exactly_in_2d():
    grid = PeriodicGrid((16, 24), (1.0, 2.0))
    xy = np.asarray(grid.coordinates(jnp.float64))
    kx, ky = 2 * np.pi * 2, 2 * np.pi * 3 / 2.0
    u0 = np.sin(kx * xy[..., 0]) * np.cos(ky * xy[..., 1])
    nu = 0.01
    traj = simulate(Diffusion(grid, nu), jnp.asarray(u0), [0.5, 1.0], dt=0.1)
    for t, u in zip([0.5, 1.0], np.asarray(traj)):
        np.testing.assert_allclose(u, u0 * np.exp(-nu * (kx**2 + ky**2) * t), atol=1e-12)


@jax.enable_x64(True)
@pytest.mark.parametrize("equation", ["burgers", "ks"])
def test_mean_is_conserved(equation):
    grid = PeriodicGrid((128,), 2 * np.pi if equation == "burgers" else 64.0)
    u0 = random_fourier_series(jax.random.PRNGKey(0), grid, dtype=jnp.float64) + 0.3
    eq = Burgers(grid, 0.05) if equation == "burgers" else KuramotoSivashinsky(grid)
    traj = np.asarray(simulate(eq, u0, np.linspace(0.5, 5.0, 10), dt=0.05))
    np.testing.assert_allclose(traj.mean(axis=-1), float(jnp.mean(u0)), atol=1e-12)


def _reference(linear, nonlinear_coefficient, n, u0, t1):
    """The same spectral ODE integrated by scipy's DOP853 at tight tolerance (numpy FFTs)."""
    k = 2 * np.pi * np.fft.rfftfreq(n, 1.0 / n) / LENGTH
    keep = np.abs(np.fft.rfftfreq(n, 1.0 / n)) < n / 3

    def rhs(t, y):
        u_hat = y[: len(k)] + 1j * y[len(k) :]
        u = np.fft.irfft(u_hat * keep, n)
        d = linear(k) * u_hat + nonlinear_coefficient * 1j * k * np.fft.rfft(u * u)
        return np.concatenate([d.real, d.imag])

    u_hat0 = np.fft.rfft(u0)
    y0 = np.concatenate([u_hat0.real, u_hat0.imag])
    sol = solve_ivp(rhs, (0, t1), y0, method="DOP853", rtol=1e-12, atol=1e-12)
    y = sol.y[:, -1]
    return np.fft.irfft(y[: len(k)] + 1j * y[len(k) :], n)


LENGTH = 64.0


@jax.enable_x64(True)
@pytest.mark.parametrize("equation", ["burgers", "ks"])
def test_trajectories_match_an_independent_high_accuracy_reference(equation):
    n = 128
    grid = PeriodicGrid((n,), LENGTH)
    u0 = random_fourier_series(jax.random.PRNGKey(1), grid, dtype=jnp.float64)
    if equation == "ks":
        eq, linear = KuramotoSivashinsky(grid), lambda k: k**2 - k**4
    else:
        eq, linear = Burgers(grid, 0.5), lambda k: -0.5 * k**2
    ours = np.asarray(simulate(eq, u0, [2.0], dt=0.01))[-1]
    reference = _reference(linear, -0.5, n, np.asarray(u0), 2.0)
    np.testing.assert_allclose(ours, reference, atol=1e-7 * np.abs(reference).max())


def test_vmap_over_a_batch_equals_a_loop():
    grid = PeriodicGrid((64,), 32.0)
    keys = jax.random.split(jax.random.PRNGKey(2), 3)
    u0 = jnp.stack([random_fourier_series(k, grid) for k in keys])
    eq = KuramotoSivashinsky(grid)
    batched = simulate(eq, u0, [0.5, 1.0], dt=0.1)
    assert batched.shape == (3, 2, 64)
    for i in range(3):
        np.testing.assert_allclose(batched[i], simulate(eq, u0[i], [0.5, 1.0], dt=0.1), atol=1e-6)


def test_bad_arguments_are_clear_errors():
    eq = Diffusion(PeriodicGrid((8,)), 0.1)
    with pytest.raises(ValueError, match="does not end in the grid shape"):
        simulate(eq, jnp.zeros(9), [1.0], dt=0.1)
    with pytest.raises(ValueError, match="must increase"):
        simulate(eq, jnp.zeros(8), [1.0, 0.5], dt=0.1)
    with pytest.raises(ValueError, match="needs dt"):
        simulate(eq, jnp.zeros(8), [1.0])
    assert math.isclose(float(simulate(eq, jnp.ones(8), [1.0], dt=0.3)[0, 0]), 1.0, rel_tol=1e-6)


@jax.enable_x64(True)
def test_kdv_soliton_travels_unchanged():
    length, n, c, x0 = 60.0, 384, 1.0, 26.0
    grid = PeriodicGrid((n,), length)
    x = np.arange(n) * length / n

    def soliton(t):
        return 0.5 * c / np.cosh(0.5 * np.sqrt(c) * (x - c * t - x0)) ** 2

    traj = np.asarray(
        simulate(KortewegDeVries(grid), jnp.asarray(soliton(0.0)), [1.0, 4.0], dt=0.005)
    )
    for t, u in zip([1.0, 4.0], traj):
        np.testing.assert_allclose(u, soliton(t), atol=1e-6)


@jax.enable_x64(True)
def test_allen_cahn_uniform_state_follows_its_ode():
    """u0 = a everywhere: u(t) = a e^t / sqrt(1 + a^2 (e^{2t} - 1))."""
    grid = PeriodicGrid((32, 32), 2 * np.pi)
    a, times = 0.2, np.array([0.5, 1.0, 3.0])
    traj = np.asarray(simulate(AllenCahn(grid, 0.1), jnp.full((32, 32), a), times, dt=0.01))
    exact = a * np.exp(times) / np.sqrt(1 + a**2 * (np.exp(2 * times) - 1))
    np.testing.assert_allclose(traj.mean(axis=(1, 2)), exact, rtol=1e-9)
    np.testing.assert_allclose(traj.std(axis=(1, 2)), 0.0, atol=1e-12)


@jax.enable_x64(True)
def test_taylor_green_vortex_decays_exactly():
    grid = PeriodicGrid((32, 32), 2 * np.pi)
    xy = np.asarray(grid.coordinates(jnp.float64))
    w0 = 2 * np.sin(xy[..., 0]) * np.sin(xy[..., 1])
    nu = 0.05
    traj = np.asarray(simulate(NavierStokes2D(grid, nu), jnp.asarray(w0), [0.5, 2.0], dt=0.05))
    for t, w in zip([0.5, 2.0], traj):
        np.testing.assert_allclose(w, w0 * np.exp(-2 * nu * t), atol=1e-11)


@jax.enable_x64(True)
def test_kolmogorov_forcing_balances_viscosity_in_the_laminar_state():
    """omega = -(A / (nu n)) cos(n y) is steady: forcing -n A cos(n y) equals nu n^2 omega."""
    grid = PeriodicGrid((32, 32), 2 * np.pi)
    nu, n, amplitude = 0.5, 4, 1.0
    y = np.asarray(grid.coordinates(jnp.float64))[..., 1]
    laminar = -(amplitude / (nu * n)) * np.cos(n * y)
    eq = NavierStokes2D(grid, nu, forcing_amplitude=amplitude, forcing_wavenumber=n)
    traj = np.asarray(simulate(eq, jnp.asarray(laminar), [1.0], dt=0.05))
    np.testing.assert_allclose(traj[-1], laminar, atol=1e-11)


@jax.enable_x64(True)
def test_advection_diffusion_shifts_and_damps_each_mode():
    grid = PeriodicGrid((64,), 1.0)
    x = np.arange(64) / 64
    c, nu, k = 0.7, 0.02, 2 * np.pi * 3
    traj = simulate(AdvectionDiffusion(grid, (c,), nu), jnp.asarray(np.sin(k * x)), [0.4], dt=0.05)
    expected = np.sin(k * (x - c * 0.4)) * np.exp(-nu * k**2 * 0.4)
    np.testing.assert_allclose(np.asarray(traj)[-1], expected, atol=1e-12)


@jax.enable_x64(True)
def test_burgers_with_kencarp4_imex_agrees_with_etdrk4():
    grid = PeriodicGrid((64,), 2 * np.pi)
    u0 = random_fourier_series(jax.random.PRNGKey(3), grid, dtype=jnp.float64)
    equation = Burgers(grid, 0.1)
    reference = simulate(equation, u0, [0.5, 1.0], dt=1e-3)
    imex = simulate(
        equation,
        u0,
        [0.5, 1.0],
        dt=0.01,
        solver=diffrax.KenCarp4(),
        stepsize_controller=diffrax.PIDController(rtol=1e-8, atol=1e-8),
    )
    np.testing.assert_allclose(np.asarray(imex), np.asarray(reference), atol=1e-5)
    explicit, implicit = equation.imex_terms().terms
    full = equation.term().vf(0.0, u0, None)
    np.testing.assert_allclose(explicit.vf(0.0, u0, None) + implicit.vf(0.0, u0, None), full)


@jax.enable_x64(True)
def test_a_batch_over_equation_coefficients_equals_a_loop():
    grid = PeriodicGrid((32,), 2 * np.pi)
    u0 = random_fourier_series(jax.random.PRNGKey(4), grid, dtype=jnp.float64)
    viscosities = jnp.array([0.02, 0.05, 0.2])

    def final(nu):
        return simulate(Burgers(grid, nu), u0, [1.0], dt=0.01)[-1]

    batched = jax.jit(jax.vmap(final))(viscosities)
    for nu, u in zip(viscosities, batched):
        np.testing.assert_allclose(u, final(float(nu)), atol=1e-13)
