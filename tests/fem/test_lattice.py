"""The DOF lattice of structured meshes: which points it holds, the round trip between DOF
vectors and lattice arrays, and the refusals."""

from __future__ import annotations

import numpy as np
import pytest

from opjax.fem import DofLattice, LagrangeSpace, disk, l_shape, square_with_hole


@pytest.mark.parametrize("degree", [1, 2])
def test_l_shape_lattice_is_the_grid_in_the_domain(degree):
    space = LagrangeSpace(l_shape(2), degree)
    lattice = DofLattice.of(space)
    n = 8 * degree + 1  # 2^r = 4 edges per unit length on a side of length 2, P2 halves them
    assert lattice.shape == (n, n)
    np.testing.assert_allclose(lattice.x, np.linspace(-1.0, 1.0, n), atol=1e-14)
    np.testing.assert_allclose(lattice.y, np.linspace(-1.0, 1.0, n), atol=1e-14)
    gx, gy = np.meshgrid(lattice.x, lattice.y, indexing="ij")
    outside = (gx > 1e-12) & (gy > 1e-12)  # the removed quadrant (0, 1]^2
    np.testing.assert_array_equal(lattice.mask, ~outside)
    points = np.asarray(space.dof_points)
    np.testing.assert_allclose(lattice.x[lattice.index[:, 0]], points[:, 0], atol=1e-14)
    np.testing.assert_allclose(lattice.y[lattice.index[:, 1]], points[:, 1], atol=1e-14)


def test_raster_and_dofs_round_trip():
    space = LagrangeSpace(square_with_hole(6), 2)
    lattice = DofLattice.of(space)
    assert lattice.shape == (13, 13)
    assert int((~lattice.mask).sum()) == 3 * 3  # the hole's interior lattice points
    dofs = np.random.default_rng(0).normal(size=(4, 3, space.n_dofs))
    grid = lattice.raster(dofs)
    assert grid.shape == (4, 3, 13, 13)
    np.testing.assert_array_equal(lattice.dofs(grid), dofs)
    np.testing.assert_array_equal(grid[..., ~lattice.mask], 0.0)
    # A nodal DOF is the function's value at its point: the lattice holds point values.
    points = np.asarray(space.dof_points)
    values = lattice.raster(np.sin(points[:, 0]) * points[:, 1])
    gx, gy = np.meshgrid(lattice.x, lattice.y, indexing="ij")
    np.testing.assert_allclose(values[lattice.mask], (np.sin(gx) * gy)[lattice.mask], atol=1e-15)


def test_refusals_name_the_problem():
    with pytest.raises(ValueError, match="not on a uniform lattice"):
        DofLattice.of(LagrangeSpace(disk(2), 1))
    lattice = DofLattice.of(LagrangeSpace(l_shape(1), 1))
    with pytest.raises(ValueError, match=r"raster expects DOF vectors \[\.\.\., 21\]"):
        lattice.raster(np.zeros((2, 20)))
    with pytest.raises(ValueError, match="dofs expects arrays"):
        lattice.dofs(np.zeros((2, 4, 5)))
