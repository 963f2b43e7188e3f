"""Kuramoto-Sivashinsky ``u_t + (u^2 / 2)_x + u_xx + u_xxxx = 0``, conservative form.

Domain ``[0, L)``, periodic (the form PDE-Refiner uses). ``L = k^2 - k^4`` (long waves
grow, short ones decay); ``N = -(i k / 2) FFT(u^2)`` with the 2/3 rule. The mean of ``u``
is conserved. Chaotic for ``L`` above about 22; PDE-Refiner: ``L`` about 64 (+-10%),
256 points, ``dt`` about 0.2 between saved states (internal steps of 0.1 or less with
ETDRK4), initial conditions from a random sine series.

``domain_length`` (optional, traceable) replaces the grid's length, so that a batch of
trajectories on domains of different lengths can be ``vmap``ped over one grid.
"""

from __future__ import annotations

import jax

from opjax.solvers.equations.base import SemiLinearEquation


class KuramotoSivashinsky(SemiLinearEquation):
    """``u_t + (u^2 / 2)_x + u_xx + u_xxxx = 0``; ``domain_length`` overrides the grid's."""

    domain_length: float | jax.Array | None = None

    def wavenumbers(self) -> list[jax.Array]:
        k = super().wavenumbers()
        if self.domain_length is None:
            return k
        return [k[0] * (self.grid.lengths[0] / self.domain_length)]

    def linear_symbol(self):
        k = self.wavenumbers()[0]
        return k**2 - k**4

    def nonlinear(self, t, u_hat, args=None):
        k = self.wavenumbers()[0]
        return -0.5j * k * self.dealiased_square(u_hat)
