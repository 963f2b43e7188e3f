"""opjax's own HDF5 dataset layout (what ``opjax generate`` writes) and its reader.

One file holds one split (``train.h5``, ``test.h5``) of ``n`` samples::

    /fields/<name>       float32 [n, n_times, *space] (trajectories) or [n, *space] (steady)
    /params/<name>       float   [n]            per-sample PDE parameters (e.g. domain_length)
    /coordinates/<axis>  float64 [n_points]     grid points along each axis, or
                                 [n, n_points]  when the domain varies per sample
    /times               float64 [n_times]      the saved times (trajectory datasets)
    /mesh/points         float64 [n_points, 2]  the triangle mesh's vertices (finite-
    /mesh/cells          int64   [n_cells, 3]   element datasets): vertex indices of
                                                each triangle, counter-clockwise
    /mesh/coarse/points, /mesh/coarse/cells      the mesh one uniform refinement coarser
                                                (when there is one: SPON-MG's coarse level)

A finite-element dataset (``poisson_mesh``, ``darcy_mesh``) stores each field as the DOF
vectors of one Lagrange space, ``/fields/<name>`` ``[n, n_dofs]``, and has no
``/coordinates``: ``/mesh`` carries the attributes ``element`` (``"P1"`` or ``"P2"``) and
``domain`` (its name, e.g. ``"l_shape"``), and the space is
``LagrangeSpace(Mesh(points, cells), degree)`` (:class:`opjax.fem.LagrangeSpace`), whose
DOFs are numbered as scikit-fem numbers them: the vertices in order, then for P2 one DOF
per edge, at its midpoint. The reader hands it back as ``FieldFile.mesh``
(:class:`~opjax.data.mesh_data.DatasetMesh`; :func:`~opjax.data.mesh_data.dataset_space`).

Root attributes: ``format = "opjax-h5"``, ``format_version``, ``problem``, ``split``,
``seed``, ``n_samples``, ``n_written`` (samples finished so far), ``complete`` (true only
once every sample is written), ``recipe`` (the resolved dataset recipe, TOML),
``opjax_version``; the ``/fields`` datasets carry ``time_dependent`` and a
``description``; ``/solver`` carries the solver settings (scheme, dt, solver grid) as
attributes. Samples are chunked one per HDF5 chunk, so reading a sample reads one chunk.

A file is written as ``<name>.partial`` and renamed when complete, so a file under its
final name is always whole; the reader refuses files whose ``complete`` flag is unset.
"""

from __future__ import annotations

import os

import h5py

from opjax.data.errors import DataFormatError
from opjax.data.fields import ArrayField, FieldFile, parse_field_key, read_sample
from opjax.data.formats.hdf5 import closed_on_failure, open_hdf5
from opjax.data.mesh_data import DatasetMesh, element_degree
from opjax.data.sample import Sample
from opjax.fem import LagrangeSpace, Mesh

FORMAT = "opjax-h5"
FORMAT_VERSION = 1

__all__ = ["FORMAT", "FORMAT_VERSION", "open_opjax_h5", "parse_field_key", "read_opjax_h5"]


def open_opjax_h5(path: str | os.PathLike) -> FieldFile:
    """Open an opjax dataset lazily, checking that it is one and that it is whole."""
    path = os.fspath(path)
    if not os.path.exists(path):
        partial = path + ".partial"
        unfinished = os.path.exists(partial)
        hint = f" (an unfinished {partial} exists: rerun opjax generate)" if unfinished else ""
        raise FileNotFoundError(f"{path}: no such dataset file{hint}")
    f = open_hdf5(path)
    with closed_on_failure(f):
        if f.attrs.get("format") != FORMAT:
            raise DataFormatError(
                f"{path}: not an opjax dataset (root attribute format != {FORMAT!r})"
            )
        if not bool(f.attrs.get("complete", False)):
            written, total = f.attrs.get("n_written", "?"), f.attrs.get("n_samples", "?")
            raise DataFormatError(
                f"{path}: incomplete dataset ({written} of {total} samples written)"
            )
        for name, dataset in f.get("fields", {}).items():
            if not isinstance(dataset, h5py.Dataset):
                raise DataFormatError(f"{path}: /fields/{name} is a group, not a dataset")
        fields = {
            name: ArrayField(
                name=name,
                source=dataset,
                shape=(*dataset.shape, 1),
                time_dependent=bool(dataset.attrs.get("time_dependent", False)),
                channel_names=(name,),
            )
            for name, dataset in f.get("fields", {}).items()
        }
        if not fields:
            raise DataFormatError(f"{path}: the dataset has no /fields")
        return FieldFile(
            path=path,
            format="opjax_h5",
            fields=fields,
            times=f["times"][()] if "times" in f else None,
            coordinates={k: v[()] for k, v in f.get("coordinates", {}).items()},
            params={k: v for k, v in f.get("params", {}).items()},
            attrs={k: (v.item() if hasattr(v, "item") else v) for k, v in f.attrs.items()},
            mesh=_read_mesh(f, path),
            close_handle=f.close,
        )


def _read_mesh(f: h5py.File, path: str) -> DatasetMesh | None:
    """The file's ``/mesh`` and its element, or None when it has none."""
    if "mesh" not in f:
        return None
    group = f["mesh"]
    try:
        if not isinstance(group, h5py.Group):
            raise ValueError("it is a dataset, not a group")
        mesh = Mesh(group["points"][()], group["cells"][()])
        degree = element_degree(str(group.attrs["element"]))
        coarse = None
        if "coarse" in group:
            coarse_mesh = Mesh(group["coarse/points"][()], group["coarse/cells"][()])
            coarse = LagrangeSpace(coarse_mesh, degree)
    except (KeyError, ValueError) as err:
        raise DataFormatError(
            f"{path}: /mesh is not a triangle mesh (points, cells) with an element ({err})"
        ) from None
    domain = str(group.attrs.get("domain", ""))
    return DatasetMesh(LagrangeSpace(mesh, degree), domain=domain, coarse=coarse)


def read_opjax_h5(
    path: str | os.PathLike,
    *,
    x_key: str = "u[0]",
    y_key: str = "u[-1]",
    n_samples: int | None = None,
) -> Sample:
    """Read a Sample ``{"x": [n, *space, c], "y": [n, ..., c]}`` from an opjax dataset.

    Args:
        path: the ``.h5`` file.
        x_key, y_key: which fields form input and target: a field name (``"a"``), one
            saved time of a trajectory (``"u[0]"``, ``"u[-1]"``), a range of times
            (``"u[1:]"``: a trajectory target ``[n, time, *space, c]``), or several of
            these separated by commas (stacked as channels).
        n_samples: the first ``n_samples`` samples (all when None).
    """
    with open_opjax_h5(path) as file:
        return read_sample(file, x_key, y_key, n_samples)
