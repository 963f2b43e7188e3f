"""Allen-Cahn ``u_t = eps^2 Laplacian u + u - u^3`` on a periodic box.

Domain ``[0, L)^d``, periodic. ``L = 1 - eps^2 |k|^2``; ``N = -FFT(u^3)`` (2/3 rule on
``u``). Solutions separate into regions near +1 and -1 joined by interfaces of width
about ``eps``; a uniform state follows ``u' = u - u^3``. Good values: ``L = 2 pi``,
``eps = 0.1``, 128 points per axis, ``dt = 0.01``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from opjax.solvers.equations.base import SemiLinearEquation


class AllenCahn(SemiLinearEquation):
    """``u_t = eps^2 Laplacian u + u - u^3``."""

    epsilon: float | jax.Array

    def linear_symbol(self):
        return 1.0 + self.epsilon**2 * self.grid.laplacian_symbol(jnp.result_type(float))

    def nonlinear(self, t, u_hat, args=None):
        u = self.grid.irfft(self.dealias(u_hat))
        return -self.grid.rfft(u**3)
