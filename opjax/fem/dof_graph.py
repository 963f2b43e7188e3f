"""The graph of a finite-element space's degrees of freedom, for message passing (SPON).

Nodes are the DOFs; an edge joins two DOFs that share a cell (the sparsity pattern of the
mass and stiffness matrices, less the diagonal), in both directions. The graph follows the
mesh, so a model on it runs on any mesh and geometry.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from opjax.fem.space import LagrangeSpace


class DofGraph(NamedTuple):
    """A space's DOF graph (numpy).

    Attributes:
        senders: ``[n_edges]`` the DOF each edge leaves.
        receivers: ``[n_edges]`` the DOF it enters (every edge appears both ways; edges are
            sorted by receiver, then sender).
        offsets: ``[n_edges, 2]`` ``x_receiver - x_sender``, the relative position.
        points: ``[n_dofs, 2]`` the DOF points.
    """

    senders: np.ndarray
    receivers: np.ndarray
    offsets: np.ndarray
    points: np.ndarray

    @property
    def n_nodes(self) -> int:
        return len(self.points)


def dof_graph(space: LagrangeSpace) -> DofGraph:
    """The DOF graph of ``space``: an edge between each two DOFs of a cell."""
    cell_dofs = space.cell_dofs
    n_local = cell_dofs.shape[1]
    i, j = np.nonzero(~np.eye(n_local, dtype=bool))
    senders, receivers = cell_dofs[:, i].ravel(), cell_dofs[:, j].ravel()
    keys = np.unique(receivers * space.n_dofs + senders)
    receivers, senders = np.divmod(keys, space.n_dofs)
    points = space.dof_points
    return DofGraph(
        senders=senders.astype(np.int32),
        receivers=receivers.astype(np.int32),
        offsets=points[receivers] - points[senders],
        points=points,
    )
