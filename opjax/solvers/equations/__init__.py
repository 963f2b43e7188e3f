"""One PDE per file: the periodic pseudo-spectral ones are :class:`SemiLinearEquation` s, the
bounded finite-difference ones :class:`ExplicitEquation` s, and the steady
:class:`Darcy2D` has its own finite-difference solver."""

from opjax.solvers.equations.advection import Advection
from opjax.solvers.equations.advection_diffusion import AdvectionDiffusion
from opjax.solvers.equations.allen_cahn import AllenCahn
from opjax.solvers.equations.base import SemiLinearEquation
from opjax.solvers.equations.burgers import Burgers
from opjax.solvers.equations.darcy import Darcy2D
from opjax.solvers.equations.diffusion import Diffusion
from opjax.solvers.equations.dirichlet_diffusion import DirichletDiffusion2D
from opjax.solvers.equations.explicit import ExplicitEquation
from opjax.solvers.equations.general_convection import GeneralConvection
from opjax.solvers.equations.korteweg_de_vries import KortewegDeVries
from opjax.solvers.equations.kuramoto_sivashinsky import KuramotoSivashinsky
from opjax.solvers.equations.navier_stokes import NavierStokes2D
from opjax.solvers.equations.upwind_burgers import UpwindBurgers

__all__ = [
    "Advection",
    "AdvectionDiffusion",
    "AllenCahn",
    "Burgers",
    "Darcy2D",
    "Diffusion",
    "DirichletDiffusion2D",
    "ExplicitEquation",
    "GeneralConvection",
    "KortewegDeVries",
    "KuramotoSivashinsky",
    "NavierStokes2D",
    "SemiLinearEquation",
    "UpwindBurgers",
]
