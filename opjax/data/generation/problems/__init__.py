"""Dataset generators by name; each module has ``DEFAULTS`` and ``build(parameters)``."""

from opjax.data.generation.problems import (
    advection1d,
    allen_cahn,
    apebench1d,
    burgers1d,
    burgers_source1d,
    darcy2d,
    darcy_mesh,
    diffusion2d_dirichlet,
    ks1d,
    ns2d_kolmogorov,
    poisson_mesh,
)

PROBLEMS = {
    "advection1d": advection1d,
    "apebench1d": apebench1d,
    "allen_cahn": allen_cahn,
    "burgers1d": burgers1d,
    "burgers_source1d": burgers_source1d,
    "diffusion2d_dirichlet": diffusion2d_dirichlet,
    "darcy2d": darcy2d,
    "darcy_mesh": darcy_mesh,
    "ks1d": ks1d,
    "ns2d_kolmogorov": ns2d_kolmogorov,
    "poisson_mesh": poisson_mesh,
}

__all__ = ["PROBLEMS"]
