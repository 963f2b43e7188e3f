"""Functions into and out of a Lagrange space: SPON's encoder and decoder.

Encoding gives the DOFs ``u [n_dofs]`` (or ``[n_dofs, channels]``) of a function in
``V_h``, by one of two methods:

* ``"interpolation"``: ``u_i = f(x_i)`` at the DOF points ``x_i`` (the nodal interpolant);
* ``"projection"``: the Galerkin (L2) projection, ``M u = b`` with ``M`` the mass matrix and
  ``b_i = int f phi_i dx`` by the space's quadrature, so ``(u_h - f, v_h) = 0`` for all
  ``v_h`` in ``V_h``.

The function comes as a callable, as another space's DOFs (a function on another mesh, e.g.
the refinement or the coarsening of this one), or as samples at scattered points. Samples
are interpolated linearly between them (Delaunay; the nearest sample outside their hull),
or projected by least squares, ``(E^T E + eps M) u = E^T v`` with ``E`` the evaluation
matrix at the sample points (a small ``eps`` fixes DOFs no sample sees).

Decoding is evaluation: :func:`fe_function` turns DOFs into a callable that evaluates the FE
function anywhere in the mesh (:func:`opjax.fem.evaluation_matrix` for the same in JAX).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.interpolate
import scipy.sparse
import scipy.sparse.linalg

from opjax.fem.point_evaluation import evaluation_matrix_scipy
from opjax.fem.space import LagrangeSpace

ENCODINGS = ("interpolation", "projection")

#: The least-squares projection's regularisation, relative to ``E^T E``'s largest diagonal.
SAMPLE_RIDGE = 1e-10


def fe_function(space: LagrangeSpace, dofs: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The FE function of ``dofs [n_dofs]`` or ``[n_dofs, c]``, as ``points [..., 2] ->
    values [...]`` or ``[..., c]``.

    Raises:
        ValueError: ``dofs`` do not fit ``space``.
        PointOutsideMeshError: (when called) a point outside the mesh.
    """
    dofs = np.asarray(dofs)
    space.check_dofs(dofs, "dofs", axis=0)

    def evaluate(points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, np.float64)
        flat = evaluation_matrix_scipy(space, points.reshape(-1, 2)) @ dofs
        return flat.reshape(*points.shape[:-1], *dofs.shape[1:])

    return evaluate


def encode(
    space: LagrangeSpace,
    source: Callable[[np.ndarray], np.ndarray] | np.ndarray,
    method: str = "interpolation",
    *,
    source_space: LagrangeSpace | None = None,
    points: np.ndarray | None = None,
) -> np.ndarray:
    """The DOFs ``[n_dofs]`` or ``[n_dofs, c]`` of ``source`` in ``space`` (module docstring).

    Args:
        space: the target space.
        source: a callable ``points [..., 2] -> values [...]`` (or ``[..., c]``); or DOFs
            ``[n, ...]``: of ``source_space`` when given, else samples at ``points`` when
            given, else ``space``'s own DOFs (returned as they are, once checked).
        method: ``"interpolation"`` or ``"projection"``.
        source_space: the space whose DOFs ``source`` holds.
        points: ``[m, 2]`` the sample points of ``source [m]`` or ``[m, c]``.

    Raises:
        ValueError: an unknown ``method``; DOFs that do not fit their space; samples whose
            count differs from the points'; both ``source_space`` and ``points``.
    """
    if method not in ENCODINGS:
        raise ValueError(f"unknown encoding {method!r}; expected one of {ENCODINGS}")
    if callable(source):
        return _encode_callable(space, source, method)
    values = np.asarray(source)
    if source_space is not None and points is not None:
        raise ValueError("give source_space (DOFs of another space) or points (samples), not both")
    if source_space is not None:
        return _encode_callable(space, fe_function(source_space, values), method)
    if points is not None:
        return _encode_samples(space, values, np.asarray(points, np.float64), method)
    space.check_dofs(values, "source", axis=0)
    return values


def _encode_callable(space: LagrangeSpace, function, method: str) -> np.ndarray:
    if method == "interpolation":
        return space.interpolate(function)
    quadrature = space.quadrature
    values = np.asarray(function(quadrature.points))  # [cells, q] or [cells, q, c]
    channels = values.reshape(*values.shape[:2], -1)
    local = np.einsum("cq,cqk,cqi->cik", quadrature.weights, channels, quadrature.values)
    load = np.stack(
        [
            np.bincount(space.cell_dofs.ravel(), local[..., k].ravel(), minlength=space.n_dofs)
            for k in range(channels.shape[-1])
        ],
        axis=-1,
    )
    dofs = scipy.sparse.linalg.splu(space.mass_scipy.tocsc()).solve(load)
    return dofs.reshape(space.n_dofs, *values.shape[2:])


def _encode_samples(
    space: LagrangeSpace, values: np.ndarray, points: np.ndarray, method: str
) -> np.ndarray:
    if points.ndim != 2 or points.shape[1] != 2 or values.shape[:1] != points.shape[:1]:
        raise ValueError(
            f"samples of shape {values.shape} at points of shape {points.shape}: expected "
            "points [m, 2] and values [m] or [m, channels]"
        )
    if method == "interpolation":
        linear = scipy.interpolate.LinearNDInterpolator(points, values)(space.dof_points)
        nearest = scipy.interpolate.NearestNDInterpolator(points, values)(space.dof_points)
        return np.where(np.isnan(linear), nearest, linear)
    evaluation = evaluation_matrix_scipy(space, points)
    normal = (evaluation.T @ evaluation).tocsc()
    ridge = SAMPLE_RIDGE * float(normal.diagonal().max())
    system = (normal + ridge * space.mass_scipy / space.mass_scipy.diagonal().max()).tocsc()
    return scipy.sparse.linalg.splu(system).solve(evaluation.T @ values)
