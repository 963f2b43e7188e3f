"""The mesh a SPON model runs on, as JAX arrays: the DOF graph of a finite-element space,
and the sparse transfer operators between two nested meshes.

A model takes these as a call argument, not as parameters, so one set of weights runs on
any mesh (mesh transfer) and the arrays are traced like any other input. A graph is equal
to itself only and hashed by identity, so a module holding one
(:class:`~opjax.models.on_mesh.OnMesh`) can be a static argument of ``jax.jit``.

* :class:`MeshGraph`: nodes are the DOFs of a Lagrange space (points ``[n, 2]``, which ones
  lie on the Dirichlet boundary), edges join two DOFs of one cell, in both directions, sorted
  by receiver (:func:`opjax.fem.dof_graph`).
* :class:`SparseOperator`: a sparse matrix ``A [n_rows, n_cols]`` as COO triplets, applied
  to node features ``[batch, n_cols, c]`` by a gather and ``jax.ops.segment_sum``.
* :class:`MultigridGraph`: a fine and a coarse :class:`MeshGraph` with the restriction
  (full weighting) and prolongation between them (:mod:`opjax.fem.transfer`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse

from opjax.fem import LagrangeSpace, dof_graph, prolongation_scipy, restriction_scipy


class MeshGraph(NamedTuple):
    """The DOF graph of one space (a pytree of arrays).

    Attributes:
        senders: ``[n_edges]`` int32, the DOF each edge leaves.
        receivers: ``[n_edges]`` int32, the DOF it enters (sorted).
        offsets: ``[n_edges, 2]`` ``x_receiver - x_sender``.
        points: ``[n_nodes, 2]`` the DOF points.
        boundary_mask: ``[n_nodes]`` bool, true at Dirichlet boundary DOFs.
    """

    senders: jax.Array
    receivers: jax.Array
    offsets: jax.Array
    points: jax.Array
    boundary_mask: jax.Array

    @property
    def n_nodes(self) -> int:
        return self.points.shape[0]

    __hash__ = object.__hash__

    def __eq__(self, other) -> bool:
        return self is other


class SparseOperator(NamedTuple):
    """``A [n_rows, n_cols]`` as COO triplets ``A[rows[k], cols[k]] = values[k]``, rows sorted.

    Attributes:
        rows, cols: ``[nnz]`` int32.
        values: ``[nnz]`` float.
    """

    rows: jax.Array
    cols: jax.Array
    values: jax.Array

    def apply(self, x: jax.Array, n_rows: int) -> jax.Array:
        """``A x``: ``x [batch, n_cols, c] -> [batch, n_rows, c]``."""
        weighted = x[:, self.cols] * self.values.astype(x.dtype)[None, :, None]
        return jax.vmap(
            lambda v: jax.ops.segment_sum(v, self.rows, n_rows, indices_are_sorted=True)
        )(weighted)


class MultigridGraph(NamedTuple):
    """Two nested meshes and the transfer between them (a pytree of arrays).

    Attributes:
        fine, coarse: the two DOF graphs.
        restriction: ``R [n_coarse, n_fine]``, full weighting (rows sum to one).
        prolongation: ``P [n_fine, n_coarse]``, exact interpolation of coarse functions.
    """

    fine: MeshGraph
    coarse: MeshGraph
    restriction: SparseOperator
    prolongation: SparseOperator

    __hash__ = object.__hash__

    def __eq__(self, other) -> bool:
        return self is other


def mesh_graph(space: LagrangeSpace, dtype=jnp.float32) -> MeshGraph:
    """The :class:`MeshGraph` of ``space`` (coordinates in ``dtype``)."""
    graph = dof_graph(space)
    return MeshGraph(
        senders=jnp.asarray(graph.senders),
        receivers=jnp.asarray(graph.receivers),
        offsets=jnp.asarray(graph.offsets, dtype),
        points=jnp.asarray(graph.points, dtype),
        boundary_mask=jnp.asarray(space.boundary_mask),
    )


def sparse_operator(matrix: scipy.sparse.spmatrix, dtype=jnp.float32) -> SparseOperator:
    """A scipy sparse matrix as a :class:`SparseOperator` (explicit zeros dropped)."""
    coo = scipy.sparse.coo_matrix(matrix)
    coo.eliminate_zeros()
    order = np.lexsort((coo.col, coo.row))
    return SparseOperator(
        rows=jnp.asarray(coo.row[order], jnp.int32),
        cols=jnp.asarray(coo.col[order], jnp.int32),
        values=jnp.asarray(coo.data[order], dtype),
    )


def multigrid_graph(
    fine: LagrangeSpace, coarse: LagrangeSpace, dtype=jnp.float32
) -> MultigridGraph:
    """The :class:`MultigridGraph` of ``fine`` and ``coarse``, whose mesh ``fine``'s refines.

    Raises:
        ValueError: the spaces differ in degree, or the meshes are not nested.
    """
    return MultigridGraph(
        fine=mesh_graph(fine, dtype),
        coarse=mesh_graph(coarse, dtype),
        restriction=sparse_operator(restriction_scipy(coarse, fine), dtype),
        prolongation=sparse_operator(prolongation_scipy(coarse, fine), dtype),
    )
