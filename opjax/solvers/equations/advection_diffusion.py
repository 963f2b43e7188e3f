"""Advection-diffusion ``u_t + c . grad u = nu Laplacian u`` on a periodic box.

Domain ``[0, L)^d``, periodic. A Fourier mode ``e^{i k x}`` becomes
``e^{i k (x - c t)} e^{-nu |k|^2 t}``; ``L = -i c . k - nu |k|^2``. Good values: ``L = 1``,
``c = 1``, ``nu = 0.01``, 128 points, ``dt = 0.01``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from opjax.solvers.equations.base import SemiLinearEquation


class AdvectionDiffusion(SemiLinearEquation):
    """``u_t + c . grad u = nu Laplacian u``; ``velocity`` has one component per axis."""

    velocity: tuple[float, ...] | jax.Array
    viscosity: float | jax.Array

    def linear_symbol(self):
        ks = self.wavenumbers()
        velocity = jnp.broadcast_to(jnp.asarray(self.velocity, ks[0].dtype), (self.grid.rank,))
        advection = -1j * sum(velocity[a] * ks[a] for a in range(self.grid.rank))
        return advection + self.viscosity * self.grid.laplacian_symbol(ks[0].dtype)
