"""Meshes of the standard 2D domains: the unit square, the L-shape, the disk and the square
with a square hole.

Each constructor returns a :class:`~opjax.fem.mesh.Mesh` whose size is set by a count
(cells per side, or refinements of a base mesh); :meth:`Mesh.refined` refines any of them
further, nested in the first.
"""

from __future__ import annotations

import numpy as np
import skfem

from opjax.fem.mesh import Mesh, compact


def unit_square(n: int) -> Mesh:
    """``(0, 1)^2`` cut into ``n x n`` squares, each split by its diagonal: ``(n + 1)^2``
    points, ``2 n^2`` triangles, ``h = sqrt(2) / n``."""
    if n < 1:
        raise ValueError(f"unit_square needs n >= 1 cells per side; got {n}")
    grid = np.linspace(0.0, 1.0, n + 1)
    mesh = skfem.MeshTri.init_tensor(grid, grid)
    return Mesh(mesh.p.T, mesh.t.T)


def l_shape(refinements: int = 0) -> Mesh:
    """The L-shape ``(-1, 1)^2`` minus ``[0, 1)^2`` (area 3; the re-entrant corner at the
    origin), from scikit-fem's six-triangle base mesh refined ``refinements`` times."""
    mesh = skfem.MeshTri.init_lshaped().refined(refinements)
    return Mesh(mesh.p.T, mesh.t.T)


def disk(refinements: int = 3) -> Mesh:
    """The unit disk: scikit-fem's four-triangle base mesh refined ``refinements`` times,
    with the new boundary points moved onto the circle at each refinement. Refining the
    result further with :meth:`Mesh.refined` keeps it nested (the boundary stays the
    polygon), so transfer operators to the refinement are exact."""
    mesh = skfem.MeshTri.init_circle(refinements)
    return Mesh(mesh.p.T, mesh.t.T)


def square_with_hole(n: int = 6) -> Mesh:
    """The unit square with the square hole ``[1/3, 2/3]^2`` cut out (area 8/9): the
    ``n x n`` mesh of :func:`unit_square` without the cells inside the hole. ``n`` must be
    a multiple of 3, so that the hole's edges are mesh lines."""
    if n < 3 or n % 3:
        raise ValueError(f"square_with_hole needs n a positive multiple of 3; got {n}")
    square = unit_square(n)
    centroids = square.points[square.cells].mean(axis=1)
    in_hole = np.all((centroids > 1 / 3) & (centroids < 2 / 3), axis=1)
    return compact(square.points, square.cells[~in_hole])
