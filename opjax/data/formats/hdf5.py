"""Opening HDF5 files for the readers built on h5py."""

from __future__ import annotations

import h5py

from opjax.data.errors import DataFormatError


def open_hdf5(path: str, kind: str = "HDF5 file") -> h5py.File:
    """``h5py.File(path, "r")``, or a :class:`DataFormatError` naming ``path`` and ``kind``
    (e.g. ``"HDF5/NetCDF4 file"``) when the file cannot be read as HDF5."""
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise DataFormatError(f"{path}: not a readable {kind} ({err})") from err
