"""Linear advection ``u_t + c . grad u = 0`` on a periodic box.

Domain ``[0, L)^d``, periodic. Exact solution ``u(x, t) = u0(x - c t)``; in Fourier space
``L = -i c . k``. Good values: ``L = 1``, ``c = 1``, 128 points, ``dt = 0.01``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from opjax.solvers.equations.base import SemiLinearEquation


class Advection(SemiLinearEquation):
    """``u_t + c . grad u = 0``; ``velocity`` has one component per axis."""

    velocity: tuple[float, ...] | jax.Array

    def linear_symbol(self):
        ks = self.wavenumbers()
        velocity = jnp.broadcast_to(jnp.asarray(self.velocity, ks[0].dtype), (self.grid.rank,))
        return -1j * sum(velocity[a] * ks[a] for a in range(self.grid.rank))
