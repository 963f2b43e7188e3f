"""Differentiable PDE solvers: periodic grids, Fourier calculus, exponential-integrator
weights, a finite-difference Darcy solver and random inputs."""

from opjax.solvers.equations import (
    Advection,
    AdvectionDiffusion,
    AllenCahn,
    Burgers,
    Darcy2D,
    Diffusion,
    DirichletDiffusion2D,
    ExplicitEquation,
    GeneralConvection,
    KortewegDeVries,
    KuramotoSivashinsky,
    NavierStokes2D,
    SemiLinearEquation,
    UpwindBurgers,
)
from opjax.solvers.etdrk import ETDRK, SemiLinearTerm, etdrk_weights
from opjax.solvers.grid import PeriodicGrid
from opjax.solvers.initial_conditions import (
    cosine_random_field,
    cosine_random_field_at,
    gaussian_random_field,
    piecewise_constant_field,
    random_fourier_series,
    threshold,
    truncated_fourier_series,
)
from opjax.solvers.phi_functions import phi_functions
from opjax.solvers.simulate import simulate

__all__ = [
    "Advection",
    "AdvectionDiffusion",
    "AllenCahn",
    "Burgers",
    "GeneralConvection",
    "Darcy2D",
    "Diffusion",
    "DirichletDiffusion2D",
    "ExplicitEquation",
    "ETDRK",
    "KortewegDeVries",
    "KuramotoSivashinsky",
    "NavierStokes2D",
    "SemiLinearEquation",
    "UpwindBurgers",
    "simulate",
    "PeriodicGrid",
    "SemiLinearTerm",
    "cosine_random_field",
    "cosine_random_field_at",
    "etdrk_weights",
    "gaussian_random_field",
    "phi_functions",
    "piecewise_constant_field",
    "random_fourier_series",
    "truncated_fourier_series",
    "threshold",
]
