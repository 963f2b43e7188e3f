"""SPON and SPON-MG: exact Dirichlet data, the graph operations against dense matrices,
equivariance under a renumbering of the DOFs, batching, and bad input. (The model contract
and both autodiff modes: the conformance suites.)"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.fem import LagrangeSpace, l_shape, prolongation_scipy, square_with_hole
from opjax.models import build_model
from opjax.models.layers.mesh_graph import (
    MeshGraph,
    MultigridGraph,
    mesh_graph,
    multigrid_graph,
    sparse_operator,
)
from opjax.models.layers.message_passing import MLP, EdgeMLP, aggregate
from opjax.models.on_mesh import on_mesh

SPON = {"in_channels": 2, "width": 8, "n_layers": 2, "dirichlet_channels": [1]}
SPON_MG = {
    "in_channels": 2,
    "width": 8,
    "coarse_width": 12,
    "n_fine_layers": 1,
    "n_coarse_layers": 2,
    "dirichlet_channels": [1],
}


@functools.cache
def _spaces(degree):
    coarse = square_with_hole(3)
    return LagrangeSpace(coarse.refined(), degree), LagrangeSpace(coarse, degree)


def _inputs(n_dofs, seed=0):
    return jax.random.normal(jax.random.PRNGKey(seed), (2, n_dofs, 2))


def _run(name, hparams, graph, x):
    model = build_model(name, hparams)
    params = model.init(jax.random.PRNGKey(1), x, graph=graph)
    return jax.jit(lambda p, x, g: model.apply(p, x, graph=g))(params, x, graph)


@pytest.mark.parametrize("degree", [1, 2])
@pytest.mark.parametrize("name", ["spon", "spon_mg"])
def test_boundary_dofs_equal_the_dirichlet_data_bit_for_bit(name, degree):
    fine, coarse = _spaces(degree)
    graph = mesh_graph(fine) if name == "spon" else multigrid_graph(fine, coarse)
    x = _inputs(fine.n_dofs)
    hparams = SPON if name == "spon" else SPON_MG
    y = np.asarray(_run(name, hparams, graph, x))
    boundary = fine.boundary_mask
    np.testing.assert_array_equal(y[:, boundary, 0], np.asarray(x)[:, boundary, 1])
    assert np.all(y[:, ~boundary, 0] != np.asarray(x)[:, ~boundary, 1])
    homogeneous = np.asarray(_run(name, {**hparams, "dirichlet_channels": []}, graph, x))
    assert np.all(homogeneous[:, boundary] == 0.0)
    assert np.all(homogeneous[:, ~boundary] != 0.0)


def test_aggregation_is_the_adjacency_matrix_product():
    space = LagrangeSpace(l_shape(1), 2)
    graph = mesh_graph(space)
    edges = jax.random.normal(jax.random.PRNGKey(0), (2, len(graph.senders), 3))
    adjacency = np.zeros((space.n_dofs, len(graph.senders)))
    adjacency[np.asarray(graph.receivers), np.arange(len(graph.senders))] = 1.0
    expected = np.einsum("ne,bec->bnc", adjacency, np.asarray(edges))
    np.testing.assert_allclose(aggregate(graph, edges, "sum"), expected, rtol=1e-5, atol=1e-6)
    degree = adjacency.sum(axis=1)
    assert degree.min() >= 2
    np.testing.assert_allclose(
        aggregate(graph, edges, "mean"), expected / degree[None, :, None], rtol=1e-5, atol=1e-6
    )
    with pytest.raises(ValueError, match="unknown aggregation 'max'"):
        aggregate(graph, edges, "max")


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_edge_mlp_is_the_mlp_on_the_concatenation(depth):
    space = LagrangeSpace(l_shape(1), 2)
    graph = mesh_graph(space)
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    nodes = jax.random.normal(keys[0], (2, space.n_dofs, 5))
    edges = jax.random.normal(keys[1], (2, len(graph.senders), 4))
    edge_mlp, mlp = EdgeMLP(6, 7, depth), MLP(6, 7, depth)
    params = edge_mlp.init(keys[2], graph, nodes, edges)
    concatenated = jnp.concatenate(
        [edges, nodes[:, graph.receivers], nodes[:, graph.senders]], axis=-1
    )
    reference_shapes = jax.tree.map(jnp.shape, mlp.init(keys[2], concatenated))
    assert jax.tree.map(jnp.shape, params) == reference_shapes
    np.testing.assert_allclose(
        edge_mlp.apply(params, graph, nodes, edges),
        mlp.apply(params, concatenated),
        rtol=1e-5,
        atol=1e-5,
    )


def test_sparse_operator_is_the_matrix_product():
    fine, coarse = _spaces(2)
    matrix = prolongation_scipy(coarse, fine)
    x = np.random.default_rng(0).standard_normal((3, coarse.n_dofs, 2))
    applied = sparse_operator(matrix, jnp.float32).apply(jnp.asarray(x, jnp.float32), fine.n_dofs)
    np.testing.assert_allclose(applied, np.einsum("fc,bcd->bfd", matrix.toarray(), x), atol=1e-5)


def _renumbered(graph: MeshGraph, new_of_old: np.ndarray) -> MeshGraph:
    """The same graph with DOF ``i`` renamed ``new_of_old[i]`` (edges re-sorted)."""
    senders = new_of_old[np.asarray(graph.senders)]
    receivers = new_of_old[np.asarray(graph.receivers)]
    order = np.lexsort((senders, receivers))
    old_of_new = np.argsort(new_of_old)
    return MeshGraph(
        senders=jnp.asarray(senders[order]),
        receivers=jnp.asarray(receivers[order]),
        offsets=graph.offsets[order],
        points=graph.points[old_of_new],
        boundary_mask=graph.boundary_mask[old_of_new],
    )


def test_renumbering_the_dofs_permutes_the_output():
    """The model sees a mesh, not a numbering: renaming the DOFs (fine and coarse) renames
    the output's DOFs and changes nothing else."""
    fine, coarse = _spaces(1)
    graph = multigrid_graph(fine, coarse)
    rng = np.random.default_rng(0)
    fine_new, coarse_new = rng.permutation(fine.n_dofs), rng.permutation(coarse.n_dofs)
    restriction = np.zeros((coarse.n_dofs, fine.n_dofs))
    restriction[np.asarray(graph.restriction.rows), np.asarray(graph.restriction.cols)] = (
        graph.restriction.values
    )
    permuted_restriction = np.zeros_like(restriction)
    permuted_restriction[np.ix_(coarse_new, fine_new)] = restriction
    prolongation = prolongation_scipy(coarse, fine).toarray()
    permuted_prolongation = np.zeros_like(prolongation)
    permuted_prolongation[np.ix_(fine_new, coarse_new)] = prolongation
    renumbered = MultigridGraph(
        fine=_renumbered(graph.fine, fine_new),
        coarse=_renumbered(graph.coarse, coarse_new),
        restriction=sparse_operator(permuted_restriction),
        prolongation=sparse_operator(permuted_prolongation),
    )
    x = _inputs(fine.n_dofs)
    x_renumbered = jnp.zeros_like(x).at[:, fine_new].set(x)
    model = build_model("spon_mg", SPON_MG)
    params = model.init(jax.random.PRNGKey(1), x, graph=graph)
    y = model.apply(params, x, graph=graph)
    y_renumbered = model.apply(params, x_renumbered, graph=renumbered)
    np.testing.assert_allclose(y_renumbered[:, fine_new], y, rtol=1e-5, atol=1e-5)


def test_vmap_over_functions_equals_the_batch():
    fine, _ = _spaces(1)
    graph = mesh_graph(fine)
    model = build_model("spon", SPON)
    x = _inputs(fine.n_dofs)
    params = model.init(jax.random.PRNGKey(1), x, graph=graph)
    batched = model.apply(params, x, graph=graph)
    mapped = jax.vmap(lambda u: model.apply(params, u[None], graph=graph)[0])(x)
    np.testing.assert_allclose(mapped, batched, rtol=1e-5, atol=1e-6)


def test_bad_input_is_named():
    fine, coarse = _spaces(1)
    graph = mesh_graph(fine)
    model = build_model("spon", SPON)
    with pytest.raises(ValueError, match=rf"SPON expects DOFs \[batch, {fine.n_dofs}, 2\]"):
        model.init(jax.random.PRNGKey(1), _inputs(coarse.n_dofs), graph=graph)
    wrong = build_model("spon", {**SPON, "dirichlet_channels": [2]})
    with pytest.raises(ValueError, match=r"dirichlet_channels \[2\] are not input channels"):
        wrong.init(jax.random.PRNGKey(1), _inputs(fine.n_dofs), graph=graph)
    two = build_model("spon", {**SPON, "dirichlet_channels": [0, 1]})
    with pytest.raises(ValueError, match="one input channel per output channel"):
        two.init(jax.random.PRNGKey(1), _inputs(fine.n_dofs), graph=graph)
    with pytest.raises(ValueError, match="not nested"):
        multigrid_graph(LagrangeSpace(l_shape(2), 1), coarse)


def test_a_model_bound_to_a_mesh_is_the_model_called_with_its_graph():
    fine, coarse = _spaces(1)
    network = build_model("spon_mg", SPON_MG)
    bound = on_mesh(network, fine, coarse)
    x = _inputs(fine.n_dofs)
    params = bound.init(jax.random.PRNGKey(1), x)
    np.testing.assert_array_equal(
        bound.apply(params, x), network.apply(params, x, graph=bound.graph)
    )
    finer = LagrangeSpace(fine.mesh.refined(), 1)
    transferred = on_mesh(network, finer, fine).apply(params, _inputs(finer.n_dofs))
    assert transferred.shape == (2, finer.n_dofs, 1)
    with pytest.raises(ValueError, match="give the coarse space too"):
        on_mesh(network, fine)
    with pytest.raises(ValueError, match="SPON runs on one mesh"):
        on_mesh(build_model("spon", SPON), fine, coarse)
    with pytest.raises(ValueError, match="FNO is not a mesh model"):
        on_mesh(build_model("fno", {"n_modes": [4], "in_channels": 1, "out_channels": 1}), fine)
