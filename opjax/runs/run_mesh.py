"""A mesh model's mesh in its run directory, ``mesh.npz``: what ``opjax.load`` binds the
model to.

    mesh.npz
      points          float64 [n_points, 2]     the training mesh
      cells           int64   [n_cells, 3]
      degree          int64   []                the Lagrange degree (1 or 2)
      coarse_points   float64 [n_coarse, 2]     SPON-MG only: the coarse mesh, which
      coarse_cells    int64   [n_coarse_cells, 3]  the training mesh refines

Plain arrays only (read with ``allow_pickle=False``), written atomically.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from opjax.fem import LagrangeSpace, Mesh
from opjax.runs.directory import atomic_write

MESH = "mesh.npz"


class RunMeshError(ValueError):
    """A run's ``mesh.npz`` is missing an array or is not a mesh; names the file."""


class RunMesh(NamedTuple):
    """The spaces a mesh model was trained on: ``space`` and, for SPON-MG, ``coarse``."""

    space: LagrangeSpace
    coarse: LagrangeSpace | None


def write_run_mesh(run_dir: str | os.PathLike, mesh: RunMesh) -> None:
    """Write ``run_dir/mesh.npz`` atomically."""
    arrays = {
        "points": mesh.space.mesh.points,
        "cells": mesh.space.mesh.cells,
        "degree": np.int64(mesh.space.degree),
    }
    if mesh.coarse is not None:
        arrays.update(coarse_points=mesh.coarse.mesh.points, coarse_cells=mesh.coarse.mesh.cells)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write(Path(run_dir) / MESH, buffer.getvalue())


def read_run_mesh(run_dir: str | os.PathLike) -> RunMesh:
    """The :class:`RunMesh` of ``run_dir``.

    Raises:
        RunMeshError: ``mesh.npz`` is missing, unreadable, or lacks an array.
    """
    path = Path(run_dir) / MESH
    if not path.exists():
        raise RunMeshError(f"{path}: the run's model is a mesh model but its mesh is missing")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            found = {name: arrays[name] for name in arrays.files}
    except (OSError, ValueError) as error:
        raise RunMeshError(f"{path}: not a mesh file ({error})") from None
    missing = [name for name in ("points", "cells", "degree") if name not in found]
    if missing:
        raise RunMeshError(f"{path}: no {', '.join(missing)} array")
    try:
        degree = int(found["degree"])
        space = LagrangeSpace(Mesh(found["points"], found["cells"]), degree)
        coarse = None
        if "coarse_points" in found:
            coarse_mesh = Mesh(found["coarse_points"], found["coarse_cells"])
            coarse = LagrangeSpace(coarse_mesh, degree)
    except (KeyError, ValueError) as error:
        raise RunMeshError(f"{path}: {error}") from None
    return RunMesh(space, coarse)
