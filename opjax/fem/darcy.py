"""A differentiable steady finite-element solver for Darcy flow and Poisson's equation.

Finds ``u_h`` in the Lagrange space ``V_h`` with ``u_h = g`` at the boundary DOFs and

    int_Omega a grad u_h . grad v_h dx = int_Omega f v_h dx    for all v_h in V_h,0,

the Galerkin form of ``-div(a grad u) = f`` in ``Omega``, ``u = g`` on ``dOmega``
(Poisson: ``a = 1``). The coefficient ``a > 0`` is given by its DOFs in the same space and
is integrated exactly by the space's quadrature.

Dirichlet data by lifting: ``u = u_0 + g_h`` with ``g_h`` the boundary values extended by
zero, and ``u_0`` in ``V_h,0`` solving ``K_00 u_0 = b_0 - (K g_h)_0`` (index 0: the interior
DOFs). ``K(a)`` is applied matrix-free, cell by cell (gather, ``[n_local, n_local]`` cell
matrices, ``segment_sum``), and the system is solved by Jacobi-preconditioned conjugate
gradients (``jax.scipy.sparse.linalg.cg``), whose implicit differentiation gives gradients
with respect to ``a``, ``f`` and ``g`` by one more solve. Works under ``jit``, ``vmap`` and
``grad``; float64 (``jax.enable_x64``) for tight tolerances.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.sparse.linalg import cg

from opjax.fem.space import LagrangeSpace


def cell_stiffness(space: LagrangeSpace, coefficient: jax.Array) -> jax.Array:
    """``[n_cells, n_local, n_local]``: ``int_c a grad phi_i . grad phi_j`` on each cell,
    for ``coefficient [n_dofs]`` (``a``'s DOFs)."""
    quadrature = space.quadrature
    dtype = coefficient.dtype
    values = jnp.asarray(quadrature.values, dtype)
    gradients = jnp.asarray(quadrature.gradients, dtype)
    a = jnp.einsum("cqi,ci->cq", values, coefficient[space.cell_dofs])
    weighted = jnp.asarray(quadrature.weights, dtype) * a
    return jnp.einsum("cq,cqid,cqjd->cij", weighted, gradients, gradients)


def cell_mass(space: LagrangeSpace, dtype=jnp.float32) -> jax.Array:
    """``[n_cells, n_local, n_local]``: ``int_c phi_i phi_j`` on each cell."""
    quadrature = space.quadrature
    values = jnp.asarray(quadrature.values, dtype)
    return jnp.einsum("cq,cqi,cqj->cij", jnp.asarray(quadrature.weights, dtype), values, values)


def apply_cell_matrices(space: LagrangeSpace, matrices: jax.Array, u: jax.Array) -> jax.Array:
    """``A u`` for the global matrix ``A`` assembled from ``matrices [n_cells, n_local,
    n_local]``, without forming it: ``[n_dofs] -> [n_dofs]``."""
    cell_dofs = jnp.asarray(space.cell_dofs)
    local = jnp.einsum("cij,cj->ci", matrices, u[cell_dofs])
    return jax.ops.segment_sum(local.ravel(), cell_dofs.ravel(), num_segments=space.n_dofs)


def source_load(space: LagrangeSpace, source: jax.Array) -> jax.Array:
    """``b = M f`` ``[n_dofs]``: the load vector ``int f_h phi_i`` of a source given by its
    DOFs ``source [n_dofs]``."""
    space.check_dofs(source, "source")
    return apply_cell_matrices(space, cell_mass(space, source.dtype), source)


def solve_darcy(
    space: LagrangeSpace,
    coefficient: jax.Array,
    load: jax.Array,
    boundary_values: jax.Array,
    *,
    rtol: float = 1e-10,
    max_steps: int | None = None,
) -> jax.Array:
    """Solve ``-div(a grad u) = f``, ``u = g`` on the boundary, in ``space``.

    Args:
        space: the Lagrange space of ``u`` and ``a``.
        coefficient: ``[n_dofs]`` the DOFs of ``a`` (positive).
        load: ``[n_dofs]`` the load vector ``b_i = int f phi_i`` (``source_load`` for a
            source given by DOFs, ``space.load_vector`` for a callable).
        boundary_values: ``[n_boundary]`` ``g`` at ``space.boundary_dofs``, in that order.
        rtol: conjugate gradients' relative residual tolerance.
        max_steps: its iteration limit (default ``10 n_dofs``).

    Returns:
        ``[n_dofs]`` the DOFs of ``u_h``; its boundary DOFs are ``boundary_values``
        exactly.
    """
    space.check_dofs(coefficient, "coefficient")
    space.check_dofs(load, "load")
    n_boundary = len(space.boundary_dofs)
    if jnp.shape(boundary_values) != (n_boundary,):
        raise ValueError(
            f"boundary_values has shape {jnp.shape(boundary_values)}; the space has "
            f"{n_boundary} boundary DOFs, so it must be [{n_boundary}]"
        )
    dtype = jnp.result_type(coefficient, load, boundary_values)
    interior = jnp.asarray(~space.boundary_mask, dtype)
    matrices = cell_stiffness(space, coefficient.astype(dtype))
    lift = jnp.zeros(space.n_dofs, dtype).at[space.boundary_dofs].set(boundary_values)
    rhs = interior * (load.astype(dtype) - apply_cell_matrices(space, matrices, lift))

    def interior_operator(v):
        return interior * apply_cell_matrices(space, matrices, interior * v)

    diagonal = jax.ops.segment_sum(
        jnp.diagonal(matrices, axis1=1, axis2=2).ravel(),
        jnp.asarray(space.cell_dofs).ravel(),
        num_segments=space.n_dofs,
    )
    inverse_diagonal = jnp.where(interior > 0, 1.0 / diagonal, 1.0)
    steps = 10 * space.n_dofs if max_steps is None else max_steps
    solution, _ = cg(
        interior_operator,
        rhs,
        tol=rtol,
        atol=0.0,
        maxiter=steps,
        M=lambda r: inverse_diagonal * r,
    )
    return jnp.where(jnp.asarray(space.boundary_mask), lift, solution)


def boundary_values_of(space: LagrangeSpace, function) -> np.ndarray:
    """``[n_boundary]``: ``function`` (``points [n, 2] -> [n]``, numpy) at the boundary DOF
    points, in the order ``solve_darcy`` takes them."""
    return np.asarray(function(space.dof_points[space.boundary_dofs]))
