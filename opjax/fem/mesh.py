"""Triangle meshes of 2D domains: the one mesh type of ``opjax.fem``, its uniform refinement
and reading from files (meshio).

A :class:`Mesh` holds plain numpy arrays, ``points [n_points, 2]`` (float64) and
``cells [n_cells, 3]`` (vertex indices, counter-clockwise), and hands scikit-fem its own
``MeshTri`` for the finite-element machinery built on it (``opjax.fem.space``).
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import meshio
import numpy as np
import skfem


class MeshFileError(ValueError):
    """A mesh file that cannot be read, or holds no triangle mesh of a 2D domain."""


@dataclasses.dataclass(frozen=True, eq=False)
class Mesh:
    """A conforming triangle mesh of a 2D domain.

    Attributes:
        points: ``[n_points, 2]`` vertex coordinates (float64).
        cells: ``[n_cells, 3]`` vertex indices of each triangle, counter-clockwise
            (the constructor reorders clockwise ones).

    Every point belongs to a cell, and no cell is degenerate (zero area): both are
    checked, with the offending indices named.
    """

    points: np.ndarray
    cells: np.ndarray

    def __post_init__(self):
        points = np.asarray(self.points, dtype=np.float64)
        cells = np.asarray(self.cells)
        if points.ndim != 2 or points.shape[1] != 2:
            raise ValueError(f"Mesh points must be [n_points, 2]; got shape {points.shape}")
        if cells.ndim != 2 or cells.shape[1] != 3 or not np.issubdtype(cells.dtype, np.integer):
            raise ValueError(
                f"Mesh cells must be integer [n_cells, 3]; got {cells.dtype} {cells.shape}"
            )
        cells = cells.astype(np.int64)
        bad = np.flatnonzero((cells < 0).any(axis=1) | (cells >= len(points)).any(axis=1))
        if bad.size:
            raise ValueError(
                f"Mesh cells {bad[:5].tolist()} index points outside 0..{len(points) - 1}"
            )
        unused = np.setdiff1d(np.arange(len(points)), cells)
        if unused.size:
            raise ValueError(f"Mesh points {unused[:5].tolist()} belong to no cell")
        area = signed_areas(points, cells)
        degenerate = np.flatnonzero(np.abs(area) <= 1e-14 * np.max(np.abs(area)))
        if degenerate.size:
            raise ValueError(f"Mesh cells {degenerate[:5].tolist()} have zero area")
        clockwise = area < 0
        cells[clockwise] = cells[clockwise][:, [0, 2, 1]]
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "cells", cells)

    @property
    def n_points(self) -> int:
        return len(self.points)

    @property
    def n_cells(self) -> int:
        return len(self.cells)

    @functools.cached_property
    def skfem(self) -> skfem.MeshTri:
        """The same mesh as scikit-fem's ``MeshTri`` (its arrays are transposed)."""
        return skfem.MeshTri(self.points.T.copy(), self.cells.T.copy())

    @property
    def area(self) -> float:
        """The domain's area, ``sum`` of the cells' areas."""
        return float(signed_areas(self.points, self.cells).sum())

    @property
    def h(self) -> float:
        """The mesh size: the longest edge."""
        edges = self.points[self.cells] - self.points[np.roll(self.cells, 1, axis=1)]
        return float(np.sqrt((edges**2).sum(axis=-1)).max())

    def refined(self, times: int = 1) -> Mesh:
        """The uniform refinement, ``times`` over: each triangle split into four by its edge
        midpoints. The result is nested in this mesh (its first ``n_points`` points are this
        mesh's, and each of its cells lies in one of this mesh's), so transfer operators
        between the two are exact (``opjax.fem.transfer``)."""
        refined = self.skfem.refined(times)
        return Mesh(refined.p.T, refined.t.T)

    def write(self, path: str | Path) -> None:
        """Write the mesh with meshio (the format follows the suffix: ``.msh``, ``.vtu``,
        ``.xdmf``, ...)."""
        points = np.column_stack([self.points, np.zeros(self.n_points)])
        meshio.write(Path(path), meshio.Mesh(points, [("triangle", self.cells)]))


def signed_areas(points: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """``[n_cells]`` signed areas of the triangles (positive when counter-clockwise)."""
    a, b, c = (points[cells[:, i]] for i in range(3))
    return 0.5 * (
        (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    )


def compact(points: np.ndarray, cells: np.ndarray) -> Mesh:
    """The mesh of ``cells`` with the points that no cell uses removed (and the cells'
    indices renumbered): what is left after cutting cells out of a mesh, or what a mesh file
    holds beside geometry points."""
    used = np.unique(cells)
    renumber = np.full(len(points), -1, dtype=np.int64)
    renumber[used] = np.arange(len(used))
    return Mesh(np.asarray(points)[used], renumber[cells])


def read_mesh(path: str | Path) -> Mesh:
    """Read the triangle mesh of a 2D domain from any file meshio reads.

    Takes the file's ``triangle`` cells (of every cell block) and drops points that no
    triangle uses (gmsh files often carry geometry points). A third coordinate must be
    constant (a mesh in a plane ``z = const``).

    Raises:
        MeshFileError: the file does not exist, meshio cannot read it, or it holds no
            triangles or a mesh that is not planar; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise MeshFileError(f"Mesh file {path} does not exist")
    try:
        data = meshio.read(path)
    # meshio raises many kinds of error for unreadable files, and its XML readers (.vtu)
    # exit the interpreter on a parse error: both become one error naming the file.
    except (Exception, SystemExit) as error:
        raise MeshFileError(f"meshio cannot read mesh file {path}: {error}") from error
    blocks = [block.data for block in data.cells if block.type == "triangle"]
    if not blocks:
        found = sorted({block.type for block in data.cells}) or ["no cells"]
        raise MeshFileError(
            f"Mesh file {path} holds no triangle cells (found: {', '.join(found)}); "
            "opjax.fem meshes 2D domains with linear triangles"
        )
    points = np.asarray(data.points, dtype=np.float64)
    if points.shape[1] == 3:
        if np.ptp(points[:, 2]) > 1e-12 * max(np.ptp(points[:, :2]), 1.0):
            raise MeshFileError(f"Mesh file {path} is not planar: its z coordinates vary")
        points = points[:, :2]
    try:
        return compact(points, np.concatenate(blocks))
    except ValueError as error:
        raise MeshFileError(f"Mesh file {path}: {error}") from error
