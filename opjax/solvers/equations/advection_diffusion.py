"""Advection-diffusion ``u_t + c . grad u = nu Laplacian u`` on a periodic box.

Domain ``[0, L)^d``, periodic. A Fourier mode ``e^{i k x}`` becomes
``e^{i k (x - c t)} e^{-nu |k|^2 t}``; ``L = -i c . k - nu |k|^2``. Good values: ``L = 1``,
``c = 1``, ``nu = 0.01``, 128 points, ``dt = 0.01``.
"""

from __future__ import annotations

import jax

from opjax.solvers.equations.advection import Advection
from opjax.solvers.equations.base import SemiLinearEquation
from opjax.solvers.equations.diffusion import Diffusion


class AdvectionDiffusion(SemiLinearEquation):
    """``u_t + c . grad u = nu Laplacian u``; ``velocity`` has one component per axis."""

    velocity: tuple[float, ...] | jax.Array
    viscosity: float | jax.Array

    def linear_symbol(self):
        advection = Advection(self.grid, self.velocity).linear_symbol()
        diffusion = Diffusion(self.grid, self.viscosity).linear_symbol()
        return advection + diffusion
