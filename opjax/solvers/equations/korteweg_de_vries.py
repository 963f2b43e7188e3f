"""Korteweg-de Vries ``u_t + 6 u u_x + u_xxx = 0`` in 1D.

Domain ``[0, L)``, periodic. In Fourier space ``L = i k^3`` (purely dispersive) and
``N = -3 i k FFT(u^2)`` with the 2/3 rule. Solitons
``u = (c / 2) sech^2(sqrt(c) (x - c t - x0) / 2)`` travel unchanged at speed ``c``.
Good values: ``L = 40``, 128-256 points, ``dt = 0.005`` to ``0.01`` (ETDRK4 treats the
stiff dispersion exactly).
"""

from __future__ import annotations

from opjax.solvers.equations.base import SemiLinearEquation


class KortewegDeVries(SemiLinearEquation):
    """``u_t + 6 u u_x + u_xxx = 0``."""

    def linear_symbol(self):
        k = self.wavenumbers()[0]
        return 1j * k**3

    def nonlinear(self, t, u_hat, args=None):
        k = self.wavenumbers()[0]
        return -3j * k * self.dealiased_square(u_hat)
