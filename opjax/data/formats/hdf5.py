"""Opening and reading HDF5 files for the readers built on h5py."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator

import h5py
import numpy as np

from opjax.data.errors import DataFormatError


def open_hdf5(path: str, kind: str = "HDF5 file") -> h5py.File:
    """``h5py.File(path, "r")``, or a :class:`DataFormatError` naming ``path`` and ``kind``
    (e.g. ``"HDF5/NetCDF4 file"``) when the file cannot be read as HDF5."""
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise DataFormatError(f"{path}: not a readable {kind} ({err})") from err


@contextlib.contextmanager
def closed_on_failure(f: h5py.File) -> Iterator[h5py.File]:
    """Close ``f`` if the block raises, and only then: a reader opens ``f``, builds its
    :class:`~opjax.data.fields.FieldFile` in the block, and that closes ``f`` later."""
    try:
        yield f
    except BaseException:
        f.close()
        raise


def is_hdf5_file(path: str) -> bool:
    """Whether ``path`` is a file that starts with HDF5's signature (reads only that)."""
    return os.path.isfile(path) and h5py.is_hdf5(path)


@dataclasses.dataclass(eq=False)
class DatasetSource:
    """An ``h5py.Dataset`` as the ``source`` of an :class:`~opjax.data.fields.ArrayField`:
    ``source[index]`` is ``dataset[index]`` in the file's own axis order.

    A truncated or corrupt file opens and then fails when its data are read; such a read
    raises a :class:`DataFormatError` naming the file and the dataset. A reader that reads
    differently (a channel slice, a broadcast) overrides :meth:`read`.
    """

    dataset: h5py.Dataset
    path: str

    def __getitem__(self, index) -> np.ndarray:
        return self.read(index if isinstance(index, tuple) else (index,))

    def read(self, index: tuple) -> np.ndarray:
        """``dataset[index]``, ``index`` a tuple (``()`` reads it all)."""
        try:
            return self.dataset[index]
        except OSError as err:
            raise DataFormatError(
                f"{self.path}: cannot read {self.dataset.name} {self.dataset.shape} "
                f"(corrupt or truncated file?): {err}"
            ) from None
