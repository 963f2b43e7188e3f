"""Structure-preserving operator networks (SPON; Bouziani & Boulle, "Structure-Preserving
Operator Learning", arXiv 2410.01065): operators between finite-element spaces on any mesh.

Inputs and outputs are functions given by their DOFs in a Lagrange space ``V_h`` on a
triangle mesh; the mesh enters as a call argument (:mod:`opjax.models.layers.mesh_graph`),
so one set of weights runs on any mesh of any domain. Encode, process, decode:

    x [batch, n_dofs, in_channels]    the input functions' DOFs (encoded by opjax.fem)
      -> node features [x, DOF point, boundary flag] -> MLP            [b, n_dofs, width]
      -> edge features [x_i - x_j, |x_i - x_j|]      -> MLP            [b, n_edges, width]
      -> n_layers interaction blocks on the DOF graph (message passing)
      -> MLP decoder                                                   [b, n_dofs, out]
      -> Dirichlet data imposed at the boundary DOFs

The output is a function of ``V_h`` (decode it anywhere with
:func:`opjax.fem.evaluation_matrix`). Boundary conditions hold exactly, the finite-element
way: the output is the lift of the Dirichlet data ``g_h`` (its boundary DOFs, zero inside)
plus a function of the homogeneous space ``V_h,0`` (the network's interior DOFs):

    u_i = g_i  at boundary DOFs i,      u_i = network_i  at interior DOFs i,

so the boundary DOFs equal the data bit for bit. The data come in an input channel
(``dirichlet_channels[k]`` holds output ``k``'s data at the boundary DOFs); with no
``dirichlet_channels`` the data are zero.

:class:`SPONMG` (SPON-MG) adds a coarse level: a light fine processor, restriction to the
coarser nested mesh (full weighting), a wider processor there, prolongation back as a
residual update, and a light fine correction.

Models are called as ``model.apply(params, x, graph=graph)`` (``t`` is accepted for the
common model signature and unused). Train them on un-normalised data: the Dirichlet data
must reach the output in physical units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from opjax.models.layers.mesh_graph import MeshGraph, MultigridGraph
from opjax.models.layers.message_passing import MLP, InteractionBlock, edge_features
from opjax.models.registry import register


def check_mesh_inputs(model: nn.Module, name: str, x: jax.Array, graph: MeshGraph) -> None:
    """Raise a ValueError naming the model ``name`` unless ``x`` is ``[batch, n_nodes,
    in_channels]`` and its ``dirichlet_channels`` are one input channel per output (or none)."""
    expected = f"[batch, {graph.n_nodes}, {model.in_channels}]"
    if x.ndim != 3 or x.shape[1:] != (graph.n_nodes, model.in_channels):
        raise ValueError(
            f"{name} expects DOFs {expected} (the mesh's {graph.n_nodes} DOFs, "
            f"in_channels={model.in_channels}); got shape {x.shape}"
        )
    channels = tuple(model.dirichlet_channels)
    if channels and len(channels) != model.out_channels:
        raise ValueError(
            f"{name}: dirichlet_channels={list(channels)} needs one input channel per "
            f"output channel ({model.out_channels}), or none for zero Dirichlet data"
        )
    bad = [c for c in channels if not 0 <= c < model.in_channels]
    if bad:
        raise ValueError(
            f"{name}: dirichlet_channels {bad} are not input channels (in_channels="
            f"{model.in_channels})"
        )


def node_inputs(x: jax.Array, graph: MeshGraph) -> jax.Array:
    """``[b, n, c] -> [b, n, c + 3]``: the DOFs, the DOF point and the boundary flag."""
    b = x.shape[0]
    position = jnp.concatenate(
        [graph.points.astype(x.dtype), graph.boundary_mask[:, None].astype(x.dtype)], axis=-1
    )
    return jnp.concatenate([x, jnp.broadcast_to(position, (b, *position.shape))], axis=-1)


def impose_dirichlet(
    x: jax.Array, interior: jax.Array, graph: MeshGraph, dirichlet_channels: Sequence[int]
) -> jax.Array:
    """``[b, n, out]``: the network's DOFs inside, the Dirichlet data at boundary DOFs."""
    channels = tuple(dirichlet_channels)
    lift = x[..., channels] if channels else jnp.zeros_like(interior)
    return jnp.where(graph.boundary_mask[None, :, None], lift.astype(interior.dtype), interior)


def decoded(model: nn.Module, x: jax.Array, nodes: jax.Array, graph: MeshGraph) -> jax.Array:
    """The decoder MLP on ``nodes [b, n, width]`` (a submodule ``decoder`` of ``model``,
    called inside its ``__call__``) with the Dirichlet data of ``x`` imposed:
    ``[b, n, out_channels]``."""
    interior = MLP(
        model.out_channels, model.width, model.mlp_depth, layer_norm=False, name="decoder"
    )(nodes)
    return impose_dirichlet(x, interior, graph, model.dirichlet_channels)


class GraphEncoder(nn.Module):
    """Node and edge features of width ``width`` on one mesh (module docstring)."""

    width: int
    mlp_depth: int = 2

    @nn.compact
    def __call__(self, x: jax.Array, graph: MeshGraph) -> tuple[jax.Array, jax.Array]:
        """``x [b, n, c]`` -> ``nodes [b, n, width]``, ``edges [b, n_edges, width]``."""
        nodes = MLP(self.width, self.width, self.mlp_depth, name="node_encoder")(
            node_inputs(x, graph)
        )
        edges = MLP(self.width, self.width, self.mlp_depth, name="edge_encoder")(
            edge_features(graph, x.dtype)
        )
        return nodes, jnp.broadcast_to(edges, (x.shape[0], *edges.shape))


class Processor(nn.Module):
    """``n_layers`` interaction blocks on one graph."""

    width: int
    n_layers: int
    mlp_depth: int = 2
    aggregation: str = "sum"

    @nn.compact
    def __call__(
        self, graph: MeshGraph, nodes: jax.Array, edges: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        for i in range(self.n_layers):
            nodes, edges = InteractionBlock(
                self.width, self.mlp_depth, self.aggregation, name=f"block_{i}"
            )(graph, nodes, edges)
        return nodes, edges


@register("spon")
class SPON(nn.Module):
    """SPON on one mesh: ``x [batch, n_dofs, in_channels] -> [batch, n_dofs, out_channels]``.

    Attributes:
        in_channels: input functions (DOF channels).
        out_channels: output functions.
        width: node and edge feature width.
        n_layers: message-passing blocks.
        mlp_depth: dense layers per MLP.
        aggregation: ``"sum"`` or ``"mean"`` over a node's incoming edges.
        dirichlet_channels: for each output, the input channel holding its Dirichlet data
            (at the boundary DOFs); empty for zero data.
    """

    mesh_levels: ClassVar[int] = 1

    in_channels: int = 1
    out_channels: int = 1
    width: int = 64
    n_layers: int = 6
    mlp_depth: int = 2
    aggregation: str = "sum"
    dirichlet_channels: Sequence[int] = ()

    @nn.compact
    def __call__(
        self,
        x: jax.Array,
        t: jax.Array | None = None,
        train: bool = False,
        *,
        graph: MeshGraph,
    ) -> jax.Array:
        del t, train
        check_mesh_inputs(self, "SPON", x, graph)
        nodes, edges = GraphEncoder(self.width, self.mlp_depth, name="encoder")(x, graph)
        nodes, _ = Processor(
            self.width, self.n_layers, self.mlp_depth, self.aggregation, name="processor"
        )(graph, nodes, edges)
        return decoded(self, x, nodes, graph)


@register("spon_mg")
class SPONMG(nn.Module):
    """SPON-MG on two nested meshes: ``x [batch, n_fine, in_channels] -> [batch, n_fine,
    out_channels]``, called with a :class:`MultigridGraph`.

    Fine level: encoder, ``n_fine_layers`` blocks; restriction ``R``; coarse level:
    ``[R h, DOF point, boundary flag] -> MLP`` to ``coarse_width``, its own edge
    encoder, ``n_coarse_layers`` blocks; prolongation ``P`` and a dense layer back to
    ``width``, added to the fine features; ``n_fine_layers`` more fine blocks; decoder and
    the exact Dirichlet data as in :class:`SPON`.

    Attributes:
        in_channels, out_channels, mlp_depth, aggregation, dirichlet_channels: as SPON's.
        width: the fine level's feature width.
        coarse_width: the coarse level's feature width.
        n_fine_layers: fine blocks before the coarse level, and again after it.
        n_coarse_layers: coarse blocks.
    """

    mesh_levels: ClassVar[int] = 2

    in_channels: int = 1
    out_channels: int = 1
    width: int = 32
    coarse_width: int = 64
    n_fine_layers: int = 2
    n_coarse_layers: int = 6
    mlp_depth: int = 2
    aggregation: str = "sum"
    dirichlet_channels: Sequence[int] = ()

    @nn.compact
    def __call__(
        self,
        x: jax.Array,
        t: jax.Array | None = None,
        train: bool = False,
        *,
        graph: MultigridGraph,
    ) -> jax.Array:
        del t, train
        fine, coarse = graph.fine, graph.coarse
        check_mesh_inputs(self, "SPON-MG", x, fine)
        nodes, edges = GraphEncoder(self.width, self.mlp_depth, name="encoder")(x, fine)
        nodes, edges = Processor(
            self.width, self.n_fine_layers, self.mlp_depth, self.aggregation, name="pre"
        )(fine, nodes, edges)
        restricted = graph.restriction.apply(nodes, coarse.n_nodes)
        coarse_nodes, coarse_edges = GraphEncoder(
            self.coarse_width, self.mlp_depth, name="coarse_encoder"
        )(restricted, coarse)
        coarse_nodes, _ = Processor(
            self.coarse_width,
            self.n_coarse_layers,
            self.mlp_depth,
            self.aggregation,
            name="coarse",
        )(coarse, coarse_nodes, coarse_edges)
        prolonged = graph.prolongation.apply(coarse_nodes, fine.n_nodes)
        nodes = nodes + nn.Dense(self.width, name="from_coarse")(prolonged)
        nodes, _ = Processor(
            self.width, self.n_fine_layers, self.mlp_depth, self.aggregation, name="post"
        )(fine, nodes, edges)
        return decoded(self, x, nodes, fine)
