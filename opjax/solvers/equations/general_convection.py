"""The generic 1D semi-linear equation of APEBench's physical scenarios (exponax's
``GeneralConvectionStepper`` and ``GeneralLinearStepper``):

    u_t = sum_{j=0}^{4} a_j d^j u / dx^j - b (u^2 / 2)_x

on ``[0, L)``, periodic. In Fourier space ``L = sum_j a_j (i k)^j`` and
``N = -(i b k / 2) FFT(u^2)`` with the 2/3 rule. Special cases (APEBench's ``phy_*``
scenarios, ``L = 1`` unless said): advection-diffusion ``a = (0, -0.25, 0.008, 0, 0)``,
``b = 0``; Burgers ``a_2 = 0.0003``, ``b = 0.125``; conservative Kuramoto-Sivashinsky
``a_2 = -1.44``, ``a_4 = -0.4``, ``b = 3.6`` on ``L = 60``.
"""

from __future__ import annotations

import jax

from opjax.solvers.equations.base import SemiLinearEquation


class GeneralConvection(SemiLinearEquation):
    """``u_t = sum_j a_j d^j u / dx^j - b (u^2 / 2)_x`` in 1D.

    Attributes:
        linear_coefficients: ``(a_0, .., a_J)``, the coefficient of the ``j``-th derivative.
        convection: ``b`` (0: a linear equation).
    """

    linear_coefficients: tuple[float, ...] | jax.Array
    convection: float | jax.Array = 0.0

    def linear_symbol(self):
        k = self.wavenumbers()[0]
        ik = 1j * k
        return sum(a * ik**j for j, a in enumerate(self.linear_coefficients))

    def nonlinear(self, t, u_hat, args=None):
        k = self.wavenumbers()[0]
        return -0.5j * self.convection * k * self.dealiased_square(u_hat)
