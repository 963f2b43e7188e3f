"""Lagrange spaces: matrices, interpolation, point evaluation, transfer, the DOF graph."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from opjax.fem import (
    LagrangeSpace,
    PointOutsideMeshError,
    dof_graph,
    evaluation_matrix,
    evaluation_matrix_scipy,
    l_shape,
    prolongation_scipy,
    restriction_scipy,
    square_with_hole,
    unit_square,
)


def polynomial(degree):
    """A full polynomial of ``degree`` in ``x, y`` (reproduced exactly by P``degree``)."""

    def f(x):
        X, Y = x[..., 0], x[..., 1]
        value = 0.3 + X - 2.0 * Y
        if degree == 2:
            value = value + 1.5 * X * Y - X**2 + 0.5 * Y**2
        return value

    return f


@pytest.mark.parametrize("degree", [1, 2])
@pytest.mark.parametrize(
    ("mesh", "integral_of_x_squared"),
    [(l_shape(1), 1.0), (square_with_hole(3), 1 / 3 - 7 / 243)],
    ids=["l_shape", "hole"],
)
def test_mass_and_stiffness(mesh, integral_of_x_squared, degree):
    space = LagrangeSpace(mesh, degree)
    mass = space.mass_matrix(np.float32)
    stiffness = space.stiffness_matrix(np.float32)
    ones = jnp.ones(space.n_dofs, jnp.float32)
    x = jnp.asarray(space.dof_points[:, 0], jnp.float32)
    # 1^T M 1 = |Omega|, x^T M x = int x^2, K 1 = 0, x^T K x = int |grad x|^2 = |Omega|.
    assert float(ones @ (mass @ ones)) == pytest.approx(mesh.area, rel=1e-6)
    assert float(x @ (mass @ x)) == pytest.approx(integral_of_x_squared, rel=1e-5)
    np.testing.assert_allclose(stiffness @ ones, 0.0, atol=1e-5)
    assert float(x @ (stiffness @ x)) == pytest.approx(mesh.area, rel=1e-5)


@pytest.mark.parametrize("degree", [1, 2])
def test_point_evaluation_reproduces_polynomials(degree):
    space = LagrangeSpace(l_shape(2), degree)
    f = polynomial(degree)
    rng = np.random.default_rng(0)
    points = rng.uniform(-1, 1, (400, 2))
    points = points[~np.all(points > 0, axis=1)]  # the L-shape
    matrix = evaluation_matrix_scipy(space, points)
    np.testing.assert_allclose(matrix @ space.interpolate(f), f(points), atol=1e-12)
    # The JAX sparse matrix is the same, in float32.
    dofs = jnp.asarray(space.interpolate(f), jnp.float32)
    np.testing.assert_allclose(evaluation_matrix(space, points) @ dofs, f(points), atol=1e-5)


def test_point_evaluation_is_not_exact_beyond_the_degree():
    """The check above can fail: P1 does not reproduce a quadratic between vertices."""
    space = LagrangeSpace(l_shape(2), 1)
    points = np.array([[-0.3, -0.55]])
    value = evaluation_matrix_scipy(space, points) @ space.interpolate(polynomial(2))
    assert abs(float(value[0]) - polynomial(2)(points)[0]) > 1e-3


def test_points_outside_the_mesh_are_named():
    space = LagrangeSpace(square_with_hole(3), 1)
    points = np.array([[0.1, 0.1], [0.5, 0.5], [0.9, 0.2]])  # the second is in the hole
    with pytest.raises(PointOutsideMeshError, match=r"1 of 3 .* point 1 at \[0.5, 0.5\]"):
        evaluation_matrix(space, points)


@pytest.mark.parametrize("degree", [1, 2])
@pytest.mark.parametrize("mesh", [l_shape(1), square_with_hole(3)], ids=["l_shape", "hole"])
def test_prolongation_is_exact_on_nested_meshes(mesh, degree):
    coarse, fine = LagrangeSpace(mesh, degree), LagrangeSpace(mesh.refined(), degree)
    prolong = prolongation_scipy(coarse, fine)
    assert prolong.shape == (fine.n_dofs, coarse.n_dofs)
    # A coarse function is a fine one: any coarse DOFs, checked at random fine points.
    rng = np.random.default_rng(1)
    coarse_dofs = rng.standard_normal(coarse.n_dofs)
    weights = rng.dirichlet(np.ones(3), 50)  # random points in random fine cells
    points = np.einsum(
        "kv,kvd->kd", weights, fine.mesh.points[fine.mesh.cells[rng.choice(fine.mesh.n_cells, 50)]]
    )
    coarse_values = evaluation_matrix_scipy(coarse, points) @ coarse_dofs
    fine_values = evaluation_matrix_scipy(fine, points) @ (prolong @ coarse_dofs)
    np.testing.assert_allclose(fine_values, coarse_values, atol=1e-12)
    # Restriction is P^T with rows scaled to one: a weighted average, constants kept.
    restrict = restriction_scipy(coarse, fine)
    np.testing.assert_allclose(restrict @ np.ones(fine.n_dofs), 1.0, rtol=1e-12)
    scale = restrict.toarray().sum(axis=1) / prolong.toarray().T.sum(axis=1)
    np.testing.assert_allclose(restrict.toarray(), scale[:, None] * prolong.toarray().T, atol=1e-15)


def test_transfer_refuses_other_degrees():
    mesh = unit_square(2)
    with pytest.raises(ValueError, match="one degree"):
        prolongation_scipy(LagrangeSpace(mesh, 1), LagrangeSpace(mesh.refined(), 2))


def test_dof_graph_is_the_matrix_pattern():
    space = LagrangeSpace(l_shape(1), 2)
    graph = dof_graph(space)
    pattern = space.mass_scipy.tocoo()
    off_diagonal = {(r, c) for r, c in zip(pattern.row, pattern.col) if r != c}
    assert set(zip(graph.receivers.tolist(), graph.senders.tolist())) == off_diagonal
    np.testing.assert_allclose(
        graph.offsets, space.dof_points[graph.receivers] - space.dof_points[graph.senders]
    )
    # P1: each interior edge twice, so the edge count is twice the mesh's.
    p1 = dof_graph(LagrangeSpace(unit_square(3), 1))
    assert len(p1.senders) == 2 * (3 * 4 * 2 + 9)


def test_dof_arrays_that_do_not_fit_are_named():
    space = LagrangeSpace(unit_square(2), 2)
    with pytest.raises(ValueError, match=r"source has shape \(9,\).*P2.*25 DOFs"):
        space.check_dofs(np.zeros(9), "source")
    with pytest.raises(ValueError, match="degree must be one of"):
        LagrangeSpace(unit_square(2), 3)
