"""The triangle mesh of a dataset whose fields are finite-element functions.

Such a dataset stores each field as DOF vectors, ``[n_samples, n_dofs]`` (steady), of one
Lagrange space ``V_h`` (:class:`~opjax.fem.LagrangeSpace`): sample ``s`` of field ``u`` is
``u_h = sum_i u[s, i] phi_i``, its DOFs being its values at the DOF points. A
:class:`DatasetMesh` is that space and the name of its domain, what a generator records
(:class:`~opjax.data.generation.problem.Problem`) and a reader hands back
(:attr:`~opjax.data.fields.FieldFile.mesh`); :func:`dataset_space` gives the space of an
opened file. The opjax HDF5 layout stores it under ``/mesh`` (:mod:`opjax.data.formats.opjax_h5`).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from opjax.data.errors import DataFormatError
from opjax.fem import LagrangeSpace, Mesh
from opjax.fem.space import ELEMENTS

if TYPE_CHECKING:
    from opjax.data.fields import FieldFile

#: The element names (``/mesh`` attribute ``element``) by polynomial degree.
ELEMENT_NAMES = {degree: f"P{degree}" for degree in ELEMENTS}


@dataclasses.dataclass(frozen=True, eq=False)
class DatasetMesh:
    """The finite-element space a dataset's fields are DOF vectors of.

    Attributes:
        space: the Lagrange space (its mesh and degree).
        domain: the domain's name (``"l_shape"``, ``"square_with_hole"``, ...), or ``""``.
        coarse: the same element on the mesh one uniform refinement coarser, whose
            refinement is ``space``'s mesh (SPON-MG's coarse level), or None.
    """

    space: LagrangeSpace
    domain: str = ""
    coarse: LagrangeSpace | None = None

    @property
    def mesh(self) -> Mesh:
        return self.space.mesh

    @property
    def element(self) -> str:
        """``"P1"`` or ``"P2"``."""
        return ELEMENT_NAMES[self.space.degree]


def element_degree(element: str) -> int:
    """The polynomial degree of an element name, ``"P1" -> 1``.

    Raises:
        ValueError: naming the element and the known ones.
    """
    for degree, name in ELEMENT_NAMES.items():
        if element == name:
            return degree
    raise ValueError(f"unknown element {element!r}; expected one of {list(ELEMENT_NAMES.values())}")


def describe_mesh(mesh: DatasetMesh) -> list[str]:
    """Lines for ``opjax data info``: domain, element, vertices, cells, DOFs (boundary
    DOFs), the mesh size and the coarse level."""
    space = mesh.space
    lines = [
        f"mesh:     {mesh.domain or 'unnamed domain'}, {mesh.element}: "
        f"{mesh.mesh.n_points} vertices, {mesh.mesh.n_cells} cells, {space.n_dofs} DOFs "
        f"({len(space.boundary_dofs)} on the boundary), h = {mesh.mesh.h:.4g}, "
        f"area {mesh.mesh.area:.4g}"
    ]
    if mesh.coarse is not None:
        lines.append(
            f"coarse:   {mesh.coarse.mesh.n_cells} cells, {mesh.coarse.n_dofs} DOFs "
            "(the mesh refines it once)"
        )
    return lines


def dataset_space(file: FieldFile) -> LagrangeSpace:
    """The Lagrange space of an opened dataset's fields, e.g.
    ``with open_dataset(path) as file: space = dataset_space(file)``.

    Raises:
        DataFormatError: the file has no mesh (its fields are not finite-element functions).
    """
    if file.mesh is None:
        raise DataFormatError(
            f"{file.path}: the dataset has no mesh, so its fields are not finite-element "
            "functions (a generator on a mesh, e.g. poisson_mesh, writes one)"
        )
    return file.mesh.space
