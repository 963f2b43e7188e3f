"""Lagrange finite-element spaces (P1, P2) on triangle meshes, on scikit-fem's bases.

A :class:`LagrangeSpace` ``V_h`` of degree ``p`` on a :class:`~opjax.fem.mesh.Mesh` is the
continuous piecewise polynomials of degree ``p``, ``u_h = sum_i u_i phi_i``, with one
nodal basis function ``phi_i`` per degree of freedom (DOF): ``phi_i(x_j) = delta_ij`` at the
DOF points ``x_j`` (the vertices, and for P2 the edge midpoints too). So a function's DOFs
are its values at the DOF points, and interpolation is evaluation there.

DOF arrays keep opjax's channels-last layout with the DOFs as the spatial axis:
``[n_dofs]`` for one scalar function, ``[batch, n_dofs, channels]`` for a batch.

The quadrature tables (:class:`Quadrature`) give everything assembled here and in
``opjax.fem.darcy`` in closed form: with weights ``w_cq`` (including the Jacobian) at the
points ``x_cq`` of cell ``c``,

    M_ij = sum_cq w_cq phi_i(x_cq) phi_j(x_cq)                    (mass)
    K_ij = sum_cq w_cq grad phi_i(x_cq) . grad phi_j(x_cq)         (stiffness)
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import scipy.sparse
import skfem
from jax.experimental import sparse as jsparse
from skfem.models import laplace, mass

from opjax.fem.mesh import Mesh

ELEMENTS = {1: skfem.ElementTriP1, 2: skfem.ElementTriP2}


class Quadrature(NamedTuple):
    """A space's basis functions at each cell's quadrature points (numpy, float64).

    Attributes:
        weights: ``[n_cells, n_quad]`` quadrature weights times ``|det J|``, so that
            ``sum(weights * f(points))`` integrates ``f`` over the domain.
        points: ``[n_cells, n_quad, 2]`` the quadrature points.
        values: ``[n_cells, n_quad, n_local]`` ``phi_i`` of each cell's local DOFs there.
        gradients: ``[n_cells, n_quad, n_local, 2]`` their gradients.
    """

    weights: np.ndarray
    points: np.ndarray
    values: np.ndarray
    gradients: np.ndarray


@dataclasses.dataclass(frozen=True, eq=False)
class LagrangeSpace:
    """The continuous Lagrange space of ``degree`` 1 or 2 on ``mesh``.

    Attributes:
        mesh: the triangle mesh.
        degree: the polynomial degree, 1 (P1) or 2 (P2).
    """

    mesh: Mesh
    degree: int = 1

    def __post_init__(self):
        if self.degree not in ELEMENTS:
            raise ValueError(
                f"LagrangeSpace degree must be one of {sorted(ELEMENTS)}; got {self.degree}"
            )

    @functools.cached_property
    def basis(self) -> skfem.CellBasis:
        """scikit-fem's basis, with a quadrature exact for products of three basis
        functions (a coefficient in the space times the mass integrand)."""
        return skfem.CellBasis(self.mesh.skfem, ELEMENTS[self.degree](), intorder=3 * self.degree)

    @property
    def n_dofs(self) -> int:
        return int(self.basis.N)

    @functools.cached_property
    def dof_points(self) -> np.ndarray:
        """``[n_dofs, 2]`` the point of each DOF (a function's DOF is its value there)."""
        return np.ascontiguousarray(self.basis.doflocs.T)

    @functools.cached_property
    def cell_dofs(self) -> np.ndarray:
        """``[n_cells, n_local]`` the DOFs of each cell (3 for P1, 6 for P2)."""
        return np.ascontiguousarray(self.basis.element_dofs.T).astype(np.int64)

    @functools.cached_property
    def boundary_dofs(self) -> np.ndarray:
        """The sorted DOFs on the domain's boundary (outer and holes')."""
        return np.unique(self.basis.get_dofs().all()).astype(np.int64)

    @functools.cached_property
    def boundary_mask(self) -> np.ndarray:
        """``[n_dofs]`` bool: True at the boundary DOFs."""
        mask = np.zeros(self.n_dofs, dtype=bool)
        mask[self.boundary_dofs] = True
        return mask

    @functools.cached_property
    def quadrature(self) -> Quadrature:
        basis = self.basis
        return Quadrature(
            weights=np.asarray(basis.dx),
            points=np.moveaxis(np.asarray(basis.global_coordinates()), 0, -1),
            values=np.stack([np.asarray(phi[0]) for phi in basis.basis], axis=-1),
            gradients=np.stack([np.moveaxis(phi[0].grad, 0, -1) for phi in basis.basis], axis=2),
        )

    @functools.cached_property
    def mass_scipy(self) -> scipy.sparse.csr_matrix:
        """The mass matrix ``M`` as scipy CSR."""
        return skfem.asm(mass, self.basis).tocsr()

    @functools.cached_property
    def stiffness_scipy(self) -> scipy.sparse.csr_matrix:
        """The stiffness matrix ``K`` (of ``-Laplace``, no boundary conditions) as scipy
        CSR."""
        return skfem.asm(laplace, self.basis).tocsr()

    def mass_matrix(self, dtype=np.float32) -> jsparse.BCOO:
        """``M`` ``[n_dofs, n_dofs]`` as a JAX sparse matrix: ``u^T M v = (u_h, v_h)_L2``."""
        return jsparse.BCOO.from_scipy_sparse(self.mass_scipy.astype(dtype))

    def stiffness_matrix(self, dtype=np.float32) -> jsparse.BCOO:
        """``K`` ``[n_dofs, n_dofs]`` as a JAX sparse matrix: ``u^T K v = (grad u_h, grad
        v_h)_L2``."""
        return jsparse.BCOO.from_scipy_sparse(self.stiffness_scipy.astype(dtype))

    def interpolate(self, function: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """The DOFs of the interpolant of ``function``.

        Args:
            function: ``points [n, 2] -> values [n]`` or ``[n, channels]`` (numpy).

        Returns:
            ``[n_dofs]`` or ``[n_dofs, channels]``: ``function`` at the DOF points.
        """
        values = np.asarray(function(self.dof_points))
        if values.shape[:1] != (self.n_dofs,):
            raise ValueError(
                f"The interpolated function returned shape {values.shape} for "
                f"{self.n_dofs} points; expected [{self.n_dofs}] or [{self.n_dofs}, channels]"
            )
        return values

    def load_vector(self, function: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """``[n_dofs]``: ``b_i = int f phi_i`` by the space's quadrature, for ``function``
        ``points [..., 2] -> values [...]`` (numpy)."""
        quadrature = self.quadrature
        f = np.asarray(function(quadrature.points))
        local = np.einsum("cq,cq,cqi->ci", quadrature.weights, f, quadrature.values)
        return np.bincount(self.cell_dofs.ravel(), local.ravel(), minlength=self.n_dofs)

    def check_dofs(self, dofs, name: str, axis: int = -1) -> None:
        """Raise a ``ValueError`` naming ``name`` unless ``dofs.shape[axis]`` is this space's
        DOF count."""
        shape = np.shape(dofs)
        if len(shape) == 0 or shape[axis] != self.n_dofs:
            raise ValueError(
                f"{name} has shape {tuple(shape)}, which does not fit the P{self.degree} space "
                f"on this mesh: its axis {axis} must hold the {self.n_dofs} DOFs"
            )
