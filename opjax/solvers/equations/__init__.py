"""One PDE per file; each is a :class:`SemiLinearEquation`."""

from opjax.solvers.equations.advection import Advection
from opjax.solvers.equations.advection_diffusion import AdvectionDiffusion
from opjax.solvers.equations.allen_cahn import AllenCahn
from opjax.solvers.equations.base import SemiLinearEquation
from opjax.solvers.equations.burgers import Burgers
from opjax.solvers.equations.diffusion import Diffusion
from opjax.solvers.equations.korteweg_de_vries import KortewegDeVries
from opjax.solvers.equations.kuramoto_sivashinsky import KuramotoSivashinsky
from opjax.solvers.equations.navier_stokes import NavierStokes2D

__all__ = [
    "Advection",
    "AdvectionDiffusion",
    "AllenCahn",
    "Burgers",
    "Diffusion",
    "KortewegDeVries",
    "KuramotoSivashinsky",
    "NavierStokes2D",
    "SemiLinearEquation",
]
