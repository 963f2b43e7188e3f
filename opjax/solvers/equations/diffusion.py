"""Diffusion ``u_t = nu Laplacian u`` (the heat equation) on a periodic box.

Domain ``[0, L)^d``, periodic. A Fourier mode decays as ``exp(-nu |k|^2 t)``;
``L = -nu |k|^2``. Good values: ``L = 1``, ``nu = 0.01``, 128 points, ``dt = 0.01``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from opjax.solvers.equations.base import SemiLinearEquation


class Diffusion(SemiLinearEquation):
    """``u_t = nu Laplacian u``."""

    viscosity: float | jax.Array

    def linear_symbol(self):
        return self.viscosity * self.grid.laplacian_symbol(jnp.result_type(float))
