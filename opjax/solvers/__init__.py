"""Differentiable PDE solvers: periodic grids, Fourier calculus and random inputs."""

from opjax.solvers.grid import PeriodicGrid
from opjax.solvers.initial_conditions import (
    gaussian_random_field,
    random_fourier_series,
    threshold,
)

__all__ = ["PeriodicGrid", "gaussian_random_field", "random_fourier_series", "threshold"]
