"""Evaluating finite-element functions at arbitrary points: ``u_h(y) = sum_i u_i phi_i(y)``.

The evaluation is linear in the DOFs, so it is a sparse matrix ``E [n_points, n_dofs]``,
``E_ki = phi_i(y_k)``, with ``n_local`` nonzeros per row (the DOFs of the cell holding
``y_k``); it is built once per point set and applied in JAX.

Points are located by their barycentric coordinates ``lambda`` in nearby cells (by a k-d
tree of the centroids, then all cells for the points not found): a point is in the cell
whose smallest coordinate is largest, and inside the mesh when that coordinate is at least
``-1e-9``, so points on edges and on the boundary (the DOF points of a refinement) are
found whatever the rounding.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.spatial
from jax.experimental import sparse as jsparse

from opjax.fem.space import LagrangeSpace

#: The smallest barycentric coordinate a point inside a cell may have (rounding).
INSIDE_TOLERANCE = 1e-9
#: Cells tried per point before all are: the nearest centroids.
NEAREST_CELLS = 8


class PointOutsideMeshError(ValueError):
    """Evaluation points that lie in no cell of the mesh."""


def evaluation_matrix_scipy(space: LagrangeSpace, points: np.ndarray) -> scipy.sparse.csr_matrix:
    """``E [n_points, n_dofs]`` (scipy CSR) with ``E @ u = u_h(points)``.

    Args:
        space: the space of the DOFs.
        points: ``[n_points, 2]``.

    Raises:
        PointOutsideMeshError: some points are in no cell; the message gives the first.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"Evaluation points must be [n_points, 2]; got shape {points.shape}")
    cells = locate(space, points)
    basis = space.basis
    reference = basis.mapping.invF(points.T[:, :, None], tind=cells)
    values = np.stack(
        [
            np.asarray(basis.elem.gbasis(basis.mapping, reference, k, tind=cells)[0])[:, 0]
            for k in range(basis.Nbfun)
        ],
        axis=1,
    )  # [n_points, n_local]
    rows = np.repeat(np.arange(len(points)), basis.Nbfun)
    matrix = scipy.sparse.coo_matrix(
        (values.ravel(), (rows, space.cell_dofs[cells].ravel())),
        shape=(len(points), space.n_dofs),
    )
    matrix = matrix.tocsr()
    matrix.eliminate_zeros()
    return matrix


def evaluation_matrix(space: LagrangeSpace, points: np.ndarray, dtype=np.float32) -> jsparse.BCOO:
    """:func:`evaluation_matrix_scipy` as a JAX sparse matrix."""
    return jsparse.BCOO.from_scipy_sparse(evaluation_matrix_scipy(space, points).astype(dtype))


def locate(space: LagrangeSpace, points: np.ndarray) -> np.ndarray:
    """``[n_points]`` the cell holding each point.

    Raises:
        PointOutsideMeshError: some points are in no cell.
    """
    mesh = space.mesh
    corners = mesh.points[mesh.cells]  # [n_cells, 3, 2]
    tree = scipy.spatial.cKDTree(corners.mean(axis=1))
    k = min(NEAREST_CELLS, mesh.n_cells)
    candidates = tree.query(points, k)[1].reshape(len(points), k)
    score = smallest_barycentric(corners[candidates], points[:, None])
    best = np.argmax(score, axis=1)
    cells = candidates[np.arange(len(points)), best]
    score = score[np.arange(len(points)), best]
    for index in np.flatnonzero(score < -INSIDE_TOLERANCE):
        every = smallest_barycentric(corners, points[index][None])
        cells[index], score[index] = np.argmax(every), np.max(every)
    outside = np.flatnonzero(score < -INSIDE_TOLERANCE)
    if outside.size:
        raise PointOutsideMeshError(
            f"{outside.size} of {len(points)} evaluation points lie outside the mesh, e.g. "
            f"point {outside[0]} at {points[outside[0]].tolist()}"
        )
    return cells


def smallest_barycentric(corners: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``min_i lambda_i(points)`` in triangles ``corners [..., 3, 2]`` (``points [..., 2]``
    broadcast against ``corners[..., 0, :]``): non-negative exactly inside."""
    a, b, c = corners[..., 0, :], corners[..., 1, :], corners[..., 2, :]
    e1, e2, d = b - a, c - a, points - a
    det = e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]
    l1 = (d[..., 0] * e2[..., 1] - d[..., 1] * e2[..., 0]) / det
    l2 = (e1[..., 0] * d[..., 1] - e1[..., 1] * d[..., 0]) / det
    return np.minimum(np.minimum(l1, l2), 1.0 - l1 - l2)
