"""Finite elements on triangle meshes, on scikit-fem and meshio: meshes of 2D domains, P1
and P2 Lagrange spaces with their mass and stiffness matrices, point evaluation, encoding
and decoding of functions, transfer operators between nested meshes, DOF graphs, and a
differentiable Darcy/Poisson solver.

Layout and conventions: ``opjax.fem.space``.
"""

from opjax.fem.darcy import (
    apply_cell_matrices,
    boundary_values_of,
    cell_mass,
    cell_stiffness,
    solve_darcy,
    source_load,
)
from opjax.fem.dof_graph import DofGraph, dof_graph
from opjax.fem.domains import disk, l_shape, square_with_hole, unit_square
from opjax.fem.encoding import ENCODINGS, encode, fe_function
from opjax.fem.lattice import DofLattice
from opjax.fem.mesh import Mesh, MeshFileError, compact, read_mesh
from opjax.fem.point_evaluation import (
    PointOutsideMeshError,
    evaluation_matrix,
    evaluation_matrix_scipy,
)
from opjax.fem.space import LagrangeSpace, Quadrature
from opjax.fem.transfer import (
    prolongation,
    prolongation_scipy,
    restriction,
    restriction_scipy,
)

__all__ = [
    "ENCODINGS",
    "DofGraph",
    "DofLattice",
    "LagrangeSpace",
    "Mesh",
    "MeshFileError",
    "PointOutsideMeshError",
    "Quadrature",
    "apply_cell_matrices",
    "boundary_values_of",
    "cell_mass",
    "cell_stiffness",
    "compact",
    "disk",
    "dof_graph",
    "encode",
    "fe_function",
    "evaluation_matrix",
    "evaluation_matrix_scipy",
    "l_shape",
    "prolongation",
    "prolongation_scipy",
    "read_mesh",
    "restriction",
    "restriction_scipy",
    "solve_darcy",
    "source_load",
    "square_with_hole",
    "unit_square",
]
