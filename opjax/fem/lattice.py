"""The uniform lattice of a Lagrange space's DOF points: finite-element data on a grid.

A uniform refinement of a structured triangulation (the L-shape, the unit square, the
square with a hole of :mod:`opjax.fem.domains`) puts every P1 and P2 DOF point on a
uniform lattice, and every lattice point in the closed domain on a DOF: the P2 DOFs of the
L-shape refined ``r`` times are the points of the ``(2^(r+1) + 1)^2`` lattice on
``[-1, 1]^2`` that lie in the domain. Nodal DOFs are point values, so a DOF vector and the
lattice array that holds it at those points, and 0 elsewhere, carry the same numbers:

    raster(u)[i_k, j_k] = u_k    for each DOF k at lattice point (x[i_k], y[j_k])
    dofs(raster(u)) = u

This is how a grid model (an FNO) sees a mesh dataset, with :attr:`DofLattice.mask` as the
domain indicator, and how its grid prediction comes back as DOFs to be scored in the
finite-element norms. A mesh whose DOF points are not on one lattice (the disk) has none.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from opjax.fem.space import LagrangeSpace


@dataclasses.dataclass(frozen=True)
class DofLattice:
    """A uniform lattice holding a space's DOF points.

    Attributes:
        x: ``[nx]`` the lattice coordinates along the first axis.
        y: ``[ny]`` along the second.
        index: ``[n_dofs, 2]`` each DOF's lattice indices ``(i, j)``.
        mask: ``[nx, ny]`` bool, which lattice points are DOFs (the domain indicator).
    """

    x: np.ndarray
    y: np.ndarray
    index: np.ndarray
    mask: np.ndarray

    @classmethod
    def of(cls, space: LagrangeSpace) -> DofLattice:
        """The smallest uniform lattice holding ``space``'s DOF points.

        Raises:
            ValueError: the DOF points do not lie on one uniform lattice.
        """
        points = np.asarray(space.dof_points, np.float64)
        scale = max(1.0, float(np.abs(points).max()))
        axes, index = [], []
        for d in range(2):
            values = np.unique(points[:, d])
            spacing = float(np.diff(values).min())
            i = np.rint((points[:, d] - values[0]) / spacing).astype(np.int64)
            axis = values[0] + spacing * np.arange(i.max() + 1)
            if np.abs(axis[i] - points[:, d]).max() > 1e-9 * scale:
                raise ValueError(
                    f"the DOF points of this P{space.degree} space are not on a uniform "
                    f"lattice (coordinate {d}): it has no DofLattice"
                )
            axes.append(axis)
            index.append(i)
        index = np.stack(index, axis=1)
        mask = np.zeros((len(axes[0]), len(axes[1])), bool)
        mask[index[:, 0], index[:, 1]] = True
        if mask.sum() != space.n_dofs:
            raise ValueError("two DOFs share a lattice point: the space has no DofLattice")
        return cls(axes[0], axes[1], index, mask)

    @property
    def shape(self) -> tuple[int, int]:
        """``(nx, ny)``."""
        return self.mask.shape

    def raster(self, dofs: np.ndarray) -> np.ndarray:
        """``[..., nx, ny]``: DOF vectors ``[..., n_dofs]`` at their lattice points, 0 at
        the points outside the domain."""
        dofs = np.asarray(dofs)
        if dofs.shape[-1:] != (len(self.index),):
            raise ValueError(
                f"raster expects DOF vectors [..., {len(self.index)}]; got shape {dofs.shape}"
            )
        grid = np.zeros((*dofs.shape[:-1], *self.shape), dofs.dtype)
        grid[..., self.index[:, 0], self.index[:, 1]] = dofs
        return grid

    def dofs(self, grid: np.ndarray) -> np.ndarray:
        """``[..., n_dofs]``: the values of lattice arrays ``grid [..., nx, ny]`` at the DOF
        points (the inverse of :meth:`raster` on the domain)."""
        grid = np.asarray(grid)
        if grid.shape[-2:] != self.shape:
            raise ValueError(f"dofs expects arrays [..., {self.shape}]; got shape {grid.shape}")
        return grid[..., self.index[:, 0], self.index[:, 1]]


__all__ = ["DofLattice"]
