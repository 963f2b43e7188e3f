"""Read PyTorch ``torch.save`` archives as numpy arrays, without PyTorch and without
executing pickled code.

A ``torch.save`` file is a zip archive ``<prefix>/data.pkl`` (a pickle of the saved object)
plus one raw little-endian buffer per tensor storage, ``<prefix>/data/<key>``. The pickle
refers to storages through persistent ids ``("storage", StorageType, key, location, numel)``
and rebuilds tensors with ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
...)``.

The unpickler here resolves only those few names (tensor rebuilds, storage types,
``collections.OrderedDict``) and plain containers; any other global in the pickle is refused
with :class:`UnsafePickleError` before anything is called. Strides and offsets are checked
against the storage size, so a corrupt file raises instead of reading out of bounds, and
the tensors of one file may not claim more bytes in all than its archive holds (a tensor
that repeats a few stored values over a huge shape, by zero strides, is refused before
any memory is asked for). Every load resolves the allowed names to objects of its own,
so nothing a pickle does to them (its ``BUILD`` opcode sets attributes) reaches a later
load.
Readers of archives that also hold other harmless names subclass :class:`ArchiveUnpickler`
and open them with :func:`unpickle_archive`.
"""

from __future__ import annotations

import collections
import functools
import io
import math
import os
import pickle
import zipfile
from collections.abc import Mapping
from typing import Any

import ml_dtypes
import numpy as np

from opjax.data.errors import DataFormatError

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "BFloat16Storage": ml_dtypes.bfloat16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
    "ComplexFloatStorage": np.complex64,
    "ComplexDoubleStorage": np.complex128,
}


class UnsafePickleError(DataFormatError):
    """The pickle names a global this reader will not resolve."""


class _StorageType:
    def __init__(self, name: str):
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _TensorBudget:
    """The bytes the tensors of one file may still claim (at first, the file's size)."""

    def __init__(self, limit: int, path: str):
        self.left = limit
        self.limit = limit
        self.path = path

    def spend(self, size: tuple[int, ...], dtype: np.dtype) -> None:
        claimed = math.prod(size) * dtype.itemsize
        if claimed > self.left:
            raise DataFormatError(
                f"{self.path}: a tensor of size {size} ({claimed} bytes) takes the file's "
                f"tensors past the {self.limit} bytes the file holds; refusing to build it"
            )
        self.left -= claimed


def _rebuild_tensor(budget: _TensorBudget, storage, storage_offset, size, stride, *unused):
    """``torch._utils._rebuild_tensor_v2`` for numpy: a strided view, copied out."""
    if not isinstance(storage, np.ndarray) or storage.ndim != 1:
        raise DataFormatError(f"{budget.path}: a tensor is built from a non-storage")
    size, stride = tuple(size), tuple(stride)
    if len(size) != len(stride) or not all(
        isinstance(n, int) and n >= 0 for n in (*size, *stride, storage_offset)
    ):
        raise DataFormatError(
            f"{budget.path}: tensor with size {size}, stride {stride} and offset "
            f"{storage_offset} is malformed"
        )
    budget.spend(size, storage.dtype)
    if 0 in size:
        return np.zeros(size, storage.dtype)
    last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= storage.size:
        raise DataFormatError(
            f"{budget.path}: tensor of size {size}, stride {stride}, offset {storage_offset} "
            f"reads past its storage of {storage.size} elements"
        )
    view = np.lib.stride_tricks.as_strided(
        storage[storage_offset:],
        shape=size,
        strides=tuple(s * storage.itemsize for s in stride),
        writeable=False,
    )
    return np.array(view)


def _rebuild_parameter(data, requires_grad, backward_hooks, *unused):
    return data


def _allowed_globals(budget: _TensorBudget) -> dict[tuple[str, str], Any]:
    """The names a ``torch.save`` pickle may use, as fresh objects for one load."""
    return {
        ("torch._utils", "_rebuild_tensor_v2"): functools.partial(_rebuild_tensor, budget),
        ("torch._utils", "_rebuild_parameter"): functools.partial(_rebuild_parameter),
        ("collections", "OrderedDict"): collections.OrderedDict,
        **{("torch", name): _StorageType(name) for name in _STORAGE_DTYPES},
    }


class ArchiveUnpickler(pickle.Unpickler):
    """Unpickles the ``<prefix>/data.pkl`` of an open ``torch.save`` archive.

    Storages are read from the archive as 1-D numpy arrays ``[numel]``; tensors become
    numpy arrays of their ``size``. The globals resolved are the tensor rebuilds, storage
    types and ``collections.OrderedDict``, then :attr:`inert_globals`; any other is refused
    with the :meth:`refusal` error before anything is called.
    """

    #: Extra ``(module, name) -> value`` a subclass allows: harmless stand-ins for names
    #: its files store (never anything that reads, writes or runs code), immutable (a
    #: pickle's ``BUILD`` cannot change them), as a tuple or a type of the standard library.
    inert_globals: Mapping[tuple[str, str], Any] = {}

    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str, path: str):
        super().__init__(io.BytesIO(data))
        self._archive = archive
        self._prefix = prefix
        self._path = path
        held = sum(info.file_size for info in archive.infolist())  # uncompressed bytes
        self._globals = _allowed_globals(_TensorBudget(held, path))
        order = f"{prefix}/byteorder"
        names = archive.namelist()
        self._byteorder = archive.read(order).decode().strip() if order in names else "little"
        if self._byteorder not in ("little", "big"):
            raise DataFormatError(f"{path}: unknown byteorder {self._byteorder!r}")

    def find_class(self, module: str, name: str):
        key = (module, name)
        if key in self._globals:
            return self._globals[key]
        if key in self.inert_globals:
            return self.inert_globals[key]
        raise self.refusal(module, name)

    def refusal(self, module: str, name: str) -> UnsafePickleError:
        """The error for a pickle that asks for the global ``module.name``."""
        return UnsafePickleError(
            f"{self._path}: the pickle asks for {module}.{name}, which is not a tensor "
            "or a plain container; refusing to load it"
        )

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise DataFormatError(f"{self._path}: unsupported persistent id {pid!r}")
        _, storage_type, key, _location, numel = pid
        if not isinstance(storage_type, _StorageType):
            raise DataFormatError(f"{self._path}: unsupported storage type {storage_type!r}")
        entry = f"{self._prefix}/data/{key}"
        try:
            raw = self._archive.read(entry)
        except KeyError:
            raise DataFormatError(f"{self._path}: storage {entry!r} is missing") from None
        dtype = storage_type.dtype.newbyteorder("<" if self._byteorder == "little" else ">")
        if len(raw) < numel * dtype.itemsize:
            raise DataFormatError(
                f"{self._path}: storage {entry!r} holds {len(raw)} bytes, "
                f"expected {numel * dtype.itemsize}"
            )
        return np.frombuffer(raw, dtype=dtype, count=numel).astype(dtype.newbyteorder("="))


def unpickle_archive(
    archive: zipfile.ZipFile, path: str, unpickler: type[ArchiveUnpickler] = ArchiveUnpickler
) -> Any:
    """The object saved in an open ``torch.save`` archive (read from ``path``), loaded by
    ``unpickler``.

    Raises:
        DataFormatError: the archive does not hold exactly one ``<prefix>/data.pkl``.
    """
    pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
    if len(pickles) != 1:
        raise DataFormatError(
            f"{path}: not a torch.save archive (expected one '<name>/data.pkl', "
            f"found {len(pickles)})"
        )
    prefix = pickles[0][: -len("/data.pkl")]
    return unpickler(archive.read(pickles[0]), archive, prefix, path).load()


def load_torch_archive(path: str | os.PathLike) -> Any:
    """Load a ``torch.save`` zip archive; tensors become numpy arrays.

    Raises:
        DataFormatError: the file is missing, not a torch zip archive, or corrupt.
        UnsafePickleError: the pickle refers to anything but tensors and containers.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataFormatError(f"{path}: no such file")
    try:
        with zipfile.ZipFile(path) as archive:
            return unpickle_archive(archive, path)
    except DataFormatError:
        raise
    except (zipfile.BadZipFile, EOFError, pickle.UnpicklingError, ValueError, TypeError) as err:
        raise DataFormatError(f"{path}: corrupt or truncated torch archive ({err})") from err
