"""Encoding functions into a Lagrange space (interpolation, L2 projection; from callables,
other spaces' DOFs and scattered samples) and decoding them anywhere."""

from __future__ import annotations

import numpy as np
import pytest

from opjax.fem import (
    LagrangeSpace,
    PointOutsideMeshError,
    encode,
    fe_function,
    l_shape,
    prolongation_scipy,
    square_with_hole,
    unit_square,
)
from tests.fem.test_space import polynomial


def smooth(x):
    return np.sin(np.pi * x[..., 0]) * np.cos(2.0 * x[..., 1])


def l2_error(space, dofs, function):
    """``||u_h - f||_L2`` by the space's quadrature."""
    quadrature = space.quadrature
    u = np.einsum("cqi,ci->cq", quadrature.values, dofs[space.cell_dofs])
    return np.sqrt(np.sum(quadrature.weights * (u - function(quadrature.points)) ** 2))


@pytest.mark.parametrize("degree", [1, 2])
@pytest.mark.parametrize("method", ["interpolation", "projection"])
def test_functions_of_the_space_are_reproduced(degree, method):
    space = LagrangeSpace(square_with_hole(3), degree)
    f = polynomial(degree)
    np.testing.assert_allclose(encode(space, f, method), f(space.dof_points), atol=1e-10)


def test_projection_is_the_best_l2_approximation_and_converges_at_h_squared():
    errors = {"interpolation": [], "projection": []}
    for n in (8, 16, 32):
        space = LagrangeSpace(unit_square(n), 1)
        for method in errors:
            errors[method].append(l2_error(space, encode(space, smooth, method), smooth))
    assert all(p < i for p, i in zip(errors["projection"], errors["interpolation"]))
    orders = np.log2(np.array(errors["projection"][:-1]) / errors["projection"][1:])
    assert np.all(orders > 1.9), orders


def test_channels_are_encoded_each():
    space = LagrangeSpace(l_shape(1), 2)
    both = encode(space, lambda x: np.stack([smooth(x), x[..., 0]], axis=-1), "projection")
    assert both.shape == (space.n_dofs, 2)
    np.testing.assert_allclose(both[:, 0], encode(space, smooth, "projection"), atol=1e-12)


@pytest.mark.parametrize("method", ["interpolation", "projection"])
def test_a_coarse_function_moves_exactly_to_the_refined_mesh(method):
    coarse = LagrangeSpace(l_shape(1), 2)
    fine = LagrangeSpace(l_shape(1).refined(), 2)
    dofs = np.random.default_rng(0).standard_normal(coarse.n_dofs)
    moved = encode(fine, dofs, method, source_space=coarse)
    np.testing.assert_allclose(moved, prolongation_scipy(coarse, fine) @ dofs, atol=1e-10)


@pytest.mark.parametrize("method", ["interpolation", "projection"])
def test_samples_of_a_linear_function_give_its_dofs(method):
    space = LagrangeSpace(square_with_hole(3), 1)
    centres = space.dof_points[space.cell_dofs].mean(axis=1)
    points = np.concatenate([space.dof_points, centres])
    f = polynomial(1)
    dofs = encode(space, f(points), method, points=points)
    np.testing.assert_allclose(dofs, f(space.dof_points), atol=1e-6)


def test_decoding_evaluates_the_fe_function_anywhere():
    space = LagrangeSpace(l_shape(1), 2)
    f = polynomial(2)
    decoded = fe_function(space, f(space.dof_points))
    points = np.array([[-0.1, 0.2], [-0.7, 0.33], [0.5, -0.5]])
    np.testing.assert_allclose(decoded(points), f(points), atol=1e-12)
    assert decoded(points.reshape(3, 1, 2)).shape == (3, 1)
    with pytest.raises(PointOutsideMeshError):
        decoded(np.array([[0.5, 0.5]]))  # the L-shape's missing quarter


def test_bad_input_is_named():
    space = LagrangeSpace(l_shape(1), 1)
    with pytest.raises(ValueError, match="unknown encoding 'nodal'"):
        encode(space, smooth, "nodal")
    with pytest.raises(ValueError, match="source has shape \\(3,\\).*21 DOFs"):
        encode(space, np.zeros(3))
    with pytest.raises(ValueError, match="samples of shape \\(4,\\) at points of shape \\(5, 2\\)"):
        encode(space, np.zeros(4), points=np.zeros((5, 2)))
    with pytest.raises(ValueError, match="not both"):
        encode(space, np.zeros(21), source_space=space, points=np.zeros((21, 2)))
