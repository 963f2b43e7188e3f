"""2D incompressible Navier-Stokes in vorticity form, optionally with Kolmogorov forcing.

    omega_t + u . grad omega = nu Laplacian omega - drag omega + f,
    u = (d psi / dy, -d psi / dx),   -Laplacian psi = omega,

on ``[0, L)^2``, periodic (``x`` is the first axis, ``y`` the second). In Fourier space
``L = -nu |k|^2 - drag``; ``N = -FFT(u omega_x + v omega_y) + f_hat`` with the 2/3 rule.
Kolmogorov forcing drives the velocity with ``(A sin(n y), 0)``, that is the vorticity
with ``f = -n A cos(n y)``. The Taylor-Green vortex ``omega = 2 sin x sin y`` on
``[0, 2 pi)^2`` is a steady Euler flow and decays as ``exp(-2 nu t)``. Good values
(Kolmogorov flow): ``L = 2 pi``, 64-128 points, ``nu = 1e-3``, ``n = 4``, ``A = 1``,
``drag = 0.1``, ``dt = 0.005``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from opjax.solvers.equations.base import SemiLinearEquation


class NavierStokes2D(SemiLinearEquation):
    """Vorticity-form 2D Navier-Stokes; ``forcing_wavenumber = 0`` means unforced."""

    viscosity: float | jax.Array
    drag: float | jax.Array = 0.0
    forcing_amplitude: float | jax.Array = 0.0
    forcing_wavenumber: int = 0

    def __check_init__(self):
        if self.grid.rank != 2:
            raise ValueError(f"NavierStokes2D needs a 2D grid; got shape {self.grid.shape}")

    def linear_symbol(self):
        return self.viscosity * self.grid.laplacian_symbol(jnp.result_type(float)) - self.drag

    def nonlinear(self, t, w_hat, args=None):
        kx, ky = self.wavenumbers()
        k2 = kx**2 + ky**2
        w_hat = self.dealias(w_hat)
        psi_hat = w_hat / jnp.where(k2 == 0, 1.0, k2)
        u = self.grid.irfft(1j * ky * psi_hat)
        v = self.grid.irfft(-1j * kx * psi_hat)
        w_x = self.grid.irfft(1j * kx * w_hat)
        w_y = self.grid.irfft(1j * ky * w_hat)
        out = -self.grid.rfft(u * w_x + v * w_y)
        if self.forcing_wavenumber:
            y = self.grid.coordinates(w_x.dtype)[..., 1]
            n = self.forcing_wavenumber * 2 * jnp.pi / self.grid.lengths[1]
            out = out + self.grid.rfft(-n * self.forcing_amplitude * jnp.cos(n * y))
        return out
