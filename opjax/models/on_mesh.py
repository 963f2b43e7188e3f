"""A mesh model with its mesh bound: the form the trainer, the evaluators and ``opjax.load``
call, ``model.apply(params, x)`` like every grid model.

A mesh model (:class:`~opjax.models.spon.SPON`, :class:`~opjax.models.spon.SPONMG`) takes
its mesh at call time, as ``graph=``; :class:`OnMesh` holds one graph and passes it. Its
variables are the network's own (shared scope), so one set of parameters binds to any mesh:
``on_mesh(network, other_space)`` evaluates a trained model on another mesh.
"""

from __future__ import annotations

import flax.linen as nn
import jax

from opjax.fem import LagrangeSpace
from opjax.models.layers.mesh_graph import MeshGraph, MultigridGraph, mesh_graph, multigrid_graph


def mesh_levels(network: nn.Module) -> int:
    """How many nested meshes ``network`` runs on: 1 (SPON), 2 (SPON-MG), 0 (not a mesh model)."""
    return getattr(type(network), "mesh_levels", 0)


class OnMesh(nn.Module):
    """``x [batch, n_dofs, in] -> [batch, n_dofs, out]``: ``network`` on one mesh.

    Attributes:
        network: a mesh model, called as ``network(x, t, train=..., graph=graph)``.
        graph: its mesh (a :class:`MeshGraph` or, for SPON-MG, a :class:`MultigridGraph`).
    """

    network: nn.Module
    graph: MeshGraph | MultigridGraph

    def setup(self):
        nn.share_scope(self, self.network)

    def __call__(self, x: jax.Array, t: jax.Array | None = None, train: bool = False):
        return self.network(x, t, train=train, graph=self.graph)


def on_mesh(
    network: nn.Module, space: LagrangeSpace, coarse: LagrangeSpace | None = None
) -> OnMesh:
    """``network`` bound to the DOF graph of ``space`` (and, for SPON-MG, of the ``coarse``
    space whose mesh ``space``'s refines).

    Raises:
        ValueError: ``network`` is not a mesh model; SPON-MG without a coarse space, or SPON
            with one; spaces that are not nested.
    """
    levels = mesh_levels(network)
    name = type(network).__name__
    if levels == 0:
        raise ValueError(f"{name} is not a mesh model (SPON, SPON-MG): it takes no mesh")
    if levels == 2 and coarse is None:
        raise ValueError(f"{name} runs on two nested meshes; give the coarse space too")
    if levels == 1 and coarse is not None:
        raise ValueError(f"{name} runs on one mesh; it takes no coarse space")
    graph = mesh_graph(space) if levels == 1 else multigrid_graph(space, coarse)
    return OnMesh(network, graph)
