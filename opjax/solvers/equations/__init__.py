"""One PDE per file; the time-dependent ones are :class:`SemiLinearEquation` s, the steady
:class:`Darcy2D` has its own finite-difference solver."""

from opjax.solvers.equations.advection import Advection
from opjax.solvers.equations.advection_diffusion import AdvectionDiffusion
from opjax.solvers.equations.allen_cahn import AllenCahn
from opjax.solvers.equations.base import SemiLinearEquation
from opjax.solvers.equations.burgers import Burgers
from opjax.solvers.equations.darcy import Darcy2D
from opjax.solvers.equations.diffusion import Diffusion
from opjax.solvers.equations.korteweg_de_vries import KortewegDeVries
from opjax.solvers.equations.kuramoto_sivashinsky import KuramotoSivashinsky
from opjax.solvers.equations.navier_stokes import NavierStokes2D

__all__ = [
    "Advection",
    "AdvectionDiffusion",
    "AllenCahn",
    "Burgers",
    "Darcy2D",
    "Diffusion",
    "KortewegDeVries",
    "KuramotoSivashinsky",
    "NavierStokes2D",
    "SemiLinearEquation",
]
