"""Transfer operators between a coarse space and the same-degree space on a refinement of
its mesh (nested meshes, ``Mesh.refined``), as sparse matrices.

* Prolongation ``P [n_fine, n_coarse]``, ``P_ij = phi_j^coarse(x_i^fine)``: the fine DOFs
  of a coarse function. On nested meshes ``V_coarse`` lies in ``V_fine``, so ``P`` is
  exact: ``(P u)_h = u_h`` everywhere.
* Restriction ``R [n_coarse, n_fine]``: ``P^T`` with its rows scaled to sum to one (full
  weighting), a local weighted average of the fine DOFs around each coarse one. It maps
  constants to constants, and ``R P`` is close to the identity; ``P^T`` itself (the
  Galerkin restriction of residuals) is ``prolongation(...).T``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
from jax.experimental import sparse as jsparse

from opjax.fem.point_evaluation import PointOutsideMeshError, evaluation_matrix_scipy
from opjax.fem.space import LagrangeSpace


def prolongation_scipy(coarse: LagrangeSpace, fine: LagrangeSpace) -> scipy.sparse.csr_matrix:
    """``P [fine.n_dofs, coarse.n_dofs]`` (scipy CSR).

    Raises:
        ValueError: the spaces differ in degree, or the fine mesh is not nested in the
            coarse one (a fine DOF point outside the coarse mesh).
    """
    if coarse.degree != fine.degree:
        raise ValueError(
            f"Transfer between spaces of one degree only; got P{coarse.degree} -> P{fine.degree}"
        )
    try:
        return evaluation_matrix_scipy(coarse, fine.dof_points)
    except PointOutsideMeshError as error:
        raise ValueError(f"The fine mesh is not nested in the coarse one: {error}") from error


def restriction_scipy(coarse: LagrangeSpace, fine: LagrangeSpace) -> scipy.sparse.csr_matrix:
    """``R [coarse.n_dofs, fine.n_dofs]`` (scipy CSR): full weighting, ``P^T`` with rows
    normalised to sum to one."""
    transpose = prolongation_scipy(coarse, fine).T.tocsr()
    row_sums = np.asarray(transpose.sum(axis=1)).ravel()
    return (scipy.sparse.diags(1.0 / row_sums) @ transpose).tocsr()


def prolongation(coarse: LagrangeSpace, fine: LagrangeSpace, dtype=np.float32) -> jsparse.BCOO:
    """:func:`prolongation_scipy` as a JAX sparse matrix."""
    return jsparse.BCOO.from_scipy_sparse(prolongation_scipy(coarse, fine).astype(dtype))


def restriction(coarse: LagrangeSpace, fine: LagrangeSpace, dtype=np.float32) -> jsparse.BCOO:
    """:func:`restriction_scipy` as a JAX sparse matrix."""
    return jsparse.BCOO.from_scipy_sparse(restriction_scipy(coarse, fine).astype(dtype))
