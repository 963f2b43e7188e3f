"""Viscous Burgers ``u_t + (u^2 / 2)_x = nu u_xx`` in 1D, conservative form.

Domain ``[0, L)``, periodic. ``L = -nu k^2``; ``N = -(i k / 2) FFT(u^2)`` with the 2/3
rule. The mean of ``u`` is conserved exactly. The FNO paper's setting: ``L = 1``,
``nu = 0.1`` (or 0.01), initial conditions from a Gaussian random field with
``alpha = 2.5, tau = 7, sigma = 49``, solution at ``t = 1``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from opjax.solvers.equations.base import SemiLinearEquation


class Burgers(SemiLinearEquation):
    """``u_t + (u^2 / 2)_x = nu u_xx``."""

    viscosity: float | jax.Array

    def linear_symbol(self):
        return self.viscosity * self.grid.laplacian_symbol(jnp.result_type(float))

    def nonlinear(self, t, u_hat, args=None):
        k = self.wavenumbers()[0]
        return -0.5j * k * self.dealiased_square(u_hat)
