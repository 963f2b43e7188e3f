"""PNG plots of finite-element functions on triangle meshes: fields given by their DOFs in a
:class:`~opjax.fem.space.LagrangeSpace`, drawn with matplotlib's ``tripcolor``.

A function is drawn as the piecewise linear interpolant of its DOF values on the
triangulation of the DOF points (:func:`dof_triangulation`): for P1 that is the function
itself on the mesh; for P2 each cell is split by its edge midpoints into four triangles, so
every DOF (vertex and midpoint) is drawn at its point.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.tri  # noqa: E402
import numpy as np  # noqa: E402

if TYPE_CHECKING:
    from opjax.fem.space import LagrangeSpace

#: The four sub-triangles of a P2 cell in its local DOFs: the vertices 0, 1, 2 are followed
#: by the midpoints of the edges 01 (3), 12 (4) and 02 (5) (scikit-fem's ``ElementTriP2``).
P2_SUBTRIANGLES = np.array([[0, 3, 5], [3, 1, 4], [5, 4, 2], [3, 4, 5]])


def dof_triangulation(space: LagrangeSpace) -> matplotlib.tri.Triangulation:
    """The triangulation of ``space``'s DOF points on which a DOF vector is drawn: its
    ``x, y`` are ``space.dof_points`` (so a field ``[n_dofs]`` is the ``C`` of
    ``tripcolor``), its triangles the mesh's cells for P1 and their four sub-triangles by the
    edge midpoints for P2 (``[4 n_cells, 3]``)."""
    if space.degree == 1:
        triangles = space.cell_dofs
    else:
        triangles = space.cell_dofs[:, P2_SUBTRIANGLES].reshape(-1, 3)
    points = space.dof_points
    return matplotlib.tri.Triangulation(points[:, 0], points[:, 1], triangles)


def plot_mesh_fields(
    path: str,
    space: LagrangeSpace,
    fields: dict[str, np.ndarray],
    title: str = "",
    *,
    shared_scale: bool = False,
    cmap: str = "viridis",
) -> None:
    """Draw finite-element functions side by side on their mesh, one panel per field.

    Args:
        path: the PNG to write.
        space: the space of the fields' DOFs.
        fields: ``{panel title: DOFs [n_dofs]}``.
        shared_scale: draw every panel on one colour scale (the fields' joint minimum and
            maximum), with one colour bar for all; otherwise each panel has its own.
        cmap: the colour map.

    Raises:
        ValueError: no fields, or a field that is not ``[n_dofs]`` of ``space``.
    """
    if not fields:
        raise ValueError("plot_mesh_fields needs at least one field to draw")
    values = {name: _dofs(space, field, name) for name, field in fields.items()}
    limits = {}
    if shared_scale:
        joint = np.concatenate(list(values.values()))
        limits = {"vmin": joint.min(), "vmax": joint.max()}
    panels = [(name, field, {"cmap": cmap, **limits}) for name, field in values.items()]
    fig, axes = _draw_panels(space, panels)
    if shared_scale:
        fig.colorbar(axes[0].collections[0], ax=list(axes), fraction=0.046)
    else:
        for ax in axes:
            fig.colorbar(ax.collections[0], ax=ax, fraction=0.046)
    if title:
        fig.suptitle(title)
    _save(fig, path)


def plot_mesh_prediction(
    path: str,
    space: LagrangeSpace,
    prediction: np.ndarray,
    reference: np.ndarray,
    title: str = "",
) -> None:
    """Draw a prediction, its reference (both on the reference's colour scale ``[min,
    max]``, so that over- and undershoots show as saturated colour) and the absolute error
    ``|prediction - reference|`` (its own scale from 0), side by side on the mesh.

    Args:
        path: the PNG to write.
        space: the space of the DOFs.
        prediction, reference: DOFs ``[n_dofs]``.
    """
    prediction = _dofs(space, prediction, "prediction")
    reference = _dofs(space, reference, "reference")
    error = np.abs(prediction - reference)
    limits = {"vmin": reference.min(), "vmax": reference.max(), "cmap": "viridis"}
    panels = [
        ("prediction", prediction, limits),
        ("reference", reference, limits),
        ("|error|", error, {"vmin": 0.0, "vmax": error.max(), "cmap": "magma"}),
    ]
    fig, axes = _draw_panels(space, panels)
    for ax in axes:
        fig.colorbar(ax.collections[0], ax=ax, fraction=0.046)
    if title:
        fig.suptitle(title)
    _save(fig, path)


def _dofs(space: LagrangeSpace, field: np.ndarray, name: str) -> np.ndarray:
    """``field`` as a float64 numpy ``[n_dofs]``, checked against ``space``."""
    field = np.asarray(field, dtype=np.float64)
    space.check_dofs(field, f"field {name!r}")
    if field.ndim != 1:
        raise ValueError(f"field {name!r} must be one function [n_dofs]; got {field.shape}")
    return field


def _draw_panels(space: LagrangeSpace, panels: list[tuple[str, np.ndarray, dict]]):
    """One row of ``tripcolor`` panels ``(title, DOFs [n_dofs], tripcolor keywords)``."""
    triangulation = dof_triangulation(space)
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4 * len(panels), 3.6), squeeze=False, layout="constrained"
    )
    for ax, (name, field, kwargs) in zip(axes[0], panels):
        ax.tripcolor(triangulation, field, shading="gouraud", **kwargs)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(name)
    return fig, axes[0]


def _save(fig, path: str) -> None:
    """Write ``fig`` as a PNG (at the resolution of :mod:`.plots`) and close it; the layout
    is matplotlib's constrained one, which places a colour bar shared by several panels."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
