"""Message passing on a mesh's DOF graph (encode-process-decode, as in MeshGraphNets).

One :class:`InteractionBlock` updates edge features ``e [batch, n_edges, w]`` and node
features ``h [batch, n_nodes, w]``, both residually:

    e_ij <- e_ij + phi_e([e_ij, h_i, h_j])              (i: receiver, j: sender)
    h_i  <- h_i  + phi_h([h_i, agg_{j -> i} e_ij])

with ``agg`` the sum (``jax.ops.segment_sum`` over the receivers, vmapped over the batch)
or the mean over the incoming edges, and ``phi_e``, ``phi_h`` :class:`MLP` s. Every
operation is a gather, a dense layer or a segment sum, so a block costs ``O(n_edges)``
and runs under every JAX transformation.

``phi_e``'s first layer never forms the concatenation (:class:`GatheredDense`): with its
kernel split by rows, ``W = [W_e; W_r; W_s]``,

    [e_ij, h_i, h_j] W + b = e_ij W_e + (h W_r)_i + (h W_s)_j + b,

the node blocks act on the ``n_nodes`` nodes before the gather, so each of the ``n_edges``
edges (about nine per node on a P2 mesh) costs one ``w x w`` product instead of three.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from opjax.models.layers.activations import gelu
from opjax.models.layers.mesh_graph import MeshGraph

AGGREGATIONS = ("sum", "mean")


class MLP(nn.Module):
    """``[..., c_in] -> [..., features]``: ``depth`` dense layers, GELU between them, and a
    LayerNorm on the output when ``layer_norm``.

    Attributes:
        features: output width.
        hidden: width of the hidden layers.
        depth: number of dense layers (>= 1).
        layer_norm: normalise the output (MeshGraphNets' latent MLPs do; decoders do not).
    """

    features: int
    hidden: int
    depth: int = 2
    layer_norm: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for _ in range(self.depth - 1):
            x = gelu(nn.Dense(self.hidden)(x))
        x = nn.Dense(self.features)(x)
        return nn.LayerNorm()(x) if self.layer_norm else x


class GatheredDense(nn.Module):
    """``[e_ij, h_i, h_j] W + b`` for every edge ``(i <- j)`` of a graph, computed as
    ``e_ij W_e + (h W_r)_i + (h W_s)_j + b`` (module docstring): ``nodes [b, n_nodes, w]``,
    ``edges [b, n_edges, w_e] -> [b, n_edges, features]``. Its parameters are those of
    ``nn.Dense(features)`` on the concatenation: ``kernel [w_e + 2 w, features]``, ``bias``.

    Attributes:
        features: output width.
    """

    features: int

    @nn.compact
    def __call__(self, graph: MeshGraph, nodes: jax.Array, edges: jax.Array) -> jax.Array:
        w, w_e = nodes.shape[-1], edges.shape[-1]
        kernel = self.param(
            "kernel", nn.initializers.lecun_normal(), (w_e + 2 * w, self.features), jnp.float32
        )
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,), jnp.float32)
        to_edge, to_receiver, to_sender = jnp.split(kernel, [w_e, w_e + w])
        return (
            edges @ to_edge
            + (nodes @ to_receiver)[:, graph.receivers]
            + (nodes @ to_sender)[:, graph.senders]
            + bias[None, None]
        )


class EdgeMLP(nn.Module):
    """``MLP(features, hidden, depth, layer_norm)`` on ``[e_ij, h_i, h_j]`` for every edge,
    its first layer a :class:`GatheredDense`; same parameters (names and shapes) as the
    :class:`MLP` on the concatenation. ``nodes [b, n_nodes, w]``, ``edges [b, n_edges, w_e]
    -> [b, n_edges, features]``."""

    features: int
    hidden: int
    depth: int = 2
    layer_norm: bool = True

    @nn.compact
    def __call__(self, graph: MeshGraph, nodes: jax.Array, edges: jax.Array) -> jax.Array:
        widths = [self.hidden] * (self.depth - 1) + [self.features]
        x = GatheredDense(widths[0], name="Dense_0")(graph, nodes, edges)
        for i, width in enumerate(widths[1:], start=1):
            x = nn.Dense(width, name=f"Dense_{i}")(gelu(x))
        return nn.LayerNorm(name="LayerNorm_0")(x) if self.layer_norm else x


def aggregate(graph: MeshGraph, edges: jax.Array, aggregation: str) -> jax.Array:
    """``[batch, n_edges, w] -> [batch, n_nodes, w]``: each node's incoming edge features,
    summed or averaged.

    Raises:
        ValueError: an unknown ``aggregation``.
    """
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {aggregation!r}; expected one of {AGGREGATIONS}")
    total = jax.vmap(
        lambda e: jax.ops.segment_sum(e, graph.receivers, graph.n_nodes, indices_are_sorted=True)
    )(edges)
    if aggregation == "sum":
        return total
    degree = jax.ops.segment_sum(
        jnp.ones_like(graph.receivers, edges.dtype),
        graph.receivers,
        graph.n_nodes,
        indices_are_sorted=True,
    )
    return total / jnp.maximum(degree, 1)[None, :, None]


class InteractionBlock(nn.Module):
    """One residual edge-then-node update (module docstring).

    Attributes:
        width: edge and node feature width.
        mlp_depth: dense layers per MLP.
        aggregation: ``"sum"`` or ``"mean"``.
    """

    width: int
    mlp_depth: int = 2
    aggregation: str = "sum"

    @nn.compact
    def __call__(
        self, graph: MeshGraph, nodes: jax.Array, edges: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        """``nodes [b, n_nodes, w]``, ``edges [b, n_edges, w]`` -> both updated."""
        edge_mlp = EdgeMLP(self.width, self.width, self.mlp_depth, name="edge_mlp")
        edges = edges + edge_mlp(graph, nodes, edges)
        incoming = aggregate(graph, edges, self.aggregation)
        update = MLP(self.width, self.width, self.mlp_depth, name="node_mlp")(
            jnp.concatenate([nodes, incoming], axis=-1)
        )
        return nodes + update, edges


def edge_features(graph: MeshGraph, dtype) -> jax.Array:
    """``[n_edges, 3]``: each edge's relative position ``x_i - x_j`` and its length."""
    offsets = graph.offsets.astype(dtype)
    length = jnp.sqrt(jnp.sum(offsets**2, axis=-1, keepdims=True))
    return jnp.concatenate([offsets, length], axis=-1)
