"""The FNO paper's MATLAB ``.mat`` files (Li et al., 2021), opened as a
:class:`~opjax.data.fields.FieldFile`.

The files, in MATLAB's axis order (``n`` samples)::

    piececonst_r421_N1024_smooth1.mat   coeff [n, s, s]  sol [n, s, s]
                                        (and Kcoeff, Kcoeff_x, Kcoeff_y)      Darcy
    burgers_data_R10.mat                a [n, 8192]  u [n, 8192]  (visc)       Burgers
    ns_V1e-3_N5000_T50.mat              a [n, 64, 64]  u [n, 64, 64, T]  t [1, T]
                                                                            Navier-Stokes

**Which arrays become fields.** The sample count ``n`` is the first axis of ``u`` (else
of ``sol``, ``a``, ``coeff``, else the most common first axis among the arrays of two or
more axes). Every numeric array of two or more axes whose first axis is ``n`` (``t``
excepted) becomes a field named after its variable, channels-last: ``[n, *space]`` ->
``[n, *space, 1]`` (Burgers' ``a`` is ``[n, 8192, 1]``).

**Time.** A variable ``u`` of three or more axes whose *last* axis has as many entries as
the file's ``t`` is a trajectory stored time-last, ``[n, *space, T]``; it becomes the
time-dependent field ``u`` ``[n, T, *space, 1]`` and ``times`` is ``t`` flattened. (In
the Navier-Stokes files ``a`` is the vorticity at time 0 and ``u[:, k]`` the vorticity
at ``t[k]``, so the trajectory does not include ``a``.) Without a matching ``t`` every
field is steady.

**Other variables.** One-element numeric arrays (e.g. ``visc``) become file-wide
``params``; other small numeric arrays (up to 65,536 elements, ``t`` included) are kept
in ``constants``; anything else (strings, structs, cells, large arrays of another sample
count) is listed in ``attrs["ignored"]``.

**MATLAB versions.**

* v7.3 files are HDF5 (a 512-byte MATLAB header in the userblock, one dataset per
  variable with a ``MATLAB_class`` attribute). MATLAB stores column-major, so h5py sees
  every array with its axes reversed (``sol`` ``[n, s, s]`` is the dataset
  ``[s, s, n]``); the reader indexes the reversed dataset and transposes what it read.
  Fully lazy: a read touches only the requested samples and times.
* v5/v7 files (``MATLAB 5.0 MAT-file`` header) are read with :func:`scipy.io.loadmat`,
  which cannot read part of a variable. Opening lists the variables with
  :func:`scipy.io.whosmat` (headers only); the first read of a field loads that whole
  variable (``variable_names=[name]``) and keeps it in memory for later reads.
"""

from __future__ import annotations

import os
import struct
from collections import Counter
from typing import Any

import h5py
import numpy as np
import scipy.io

from opjax.data.errors import DataFormatError
from opjax.data.fields import ArrayField, FieldFile
from opjax.data.formats.hdf5 import closed_on_failure, open_hdf5

FORMAT = "fno_mat"

__all__ = ["FORMAT", "detect_fno_mat", "open_fno_mat"]

_V5_HEADER = b"MATLAB 5.0 MAT-file"
_V73_HEADER = b"MATLAB 7.3 MAT-file"
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_NUMERIC = {
    "double",
    "single",
    "logical",
    "int8",
    "uint8",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
}
_SAMPLE_NAMES = ("u", "sol", "a", "coeff")
_SMALL = 65536
_MI_MATRIX = 14


def detect_fno_mat(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a MATLAB file: a v5/v7 header (``MATLAB 5.0 MAT-file``), a v7.3
    header, or HDF5 whose datasets carry ``MATLAB_class`` attributes."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as stream:
            head = stream.read(520)
    except OSError:
        return False
    if head.startswith((_V5_HEADER, _V73_HEADER)):
        return True
    if head[:8] == _HDF5_SIGNATURE or head[512:520] == _HDF5_SIGNATURE:
        try:
            with h5py.File(path, "r") as f:
                return any("MATLAB_class" in node.attrs for node in f.values())
        except (OSError, ValueError):
            return False
    return False


def open_fno_mat(path: str | os.PathLike) -> FieldFile:
    """Open an FNO-paper ``.mat`` file (MATLAB v5/v7 or v7.3).

    Returns:
        A :class:`FieldFile` with ``format="fno_mat"``, fields, ``times``, ``params`` and
        ``constants`` as the module docstring describes, and ``attrs["mat_version"]``
        (``"5"`` or ``"7.3"``).

    Raises:
        FileNotFoundError: no file at ``path``.
        DataFormatError: not a MATLAB file, unreadable (e.g. truncated), or without an
            array to read (the message names the file and the variable).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such .mat file")
    with open(path, "rb") as stream:
        head = stream.read(520)
    if head.startswith(_V5_HEADER):
        return _open_v5(path)
    if head[:8] == _HDF5_SIGNATURE or head[512:520] == _HDF5_SIGNATURE:
        return _open_v73(path)
    raise DataFormatError(
        f"{path}: not a MATLAB v5/v7 file (no 'MATLAB 5.0 MAT-file' header) nor a v7.3 (HDF5) file"
    )


# -- MATLAB v5/v7: scipy.io -------------------------------------------------------------


class _MatV5Variable:
    """One variable of a v5 file, loaded whole on first indexing and kept."""

    def __init__(self, path: str, name: str, shape: tuple[int, ...]):
        self.path, self.name, self.shape = path, name, shape
        self._array: np.ndarray | None = None

    def load(self) -> np.ndarray:
        if self._array is None:
            self._array = _loadmat(self.path, self.name)
            if self._array.shape != self.shape:
                raise DataFormatError(
                    f"{self.path}: variable {self.name!r} has shape {self._array.shape}, "
                    f"but its header says {self.shape}"
                )
        return self._array

    def __getitem__(self, index):
        return self.load()[index]


def _loadmat(path: str, name: str) -> np.ndarray:
    try:
        content = scipy.io.loadmat(path, variable_names=[name])
    except Exception as err:  # scipy raises many kinds on a corrupt file
        raise DataFormatError(
            f"{path}: cannot read variable {name!r} ({type(err).__name__}: {err})"
        ) from None
    if name not in content:
        raise DataFormatError(f"{path}: variable {name!r} could not be read")
    return np.asarray(content[name])


def _open_v5(path: str) -> FieldFile:
    try:
        listing = scipy.io.whosmat(path)
    except Exception as err:
        raise DataFormatError(
            f"{path}: not a readable MATLAB v5 file ({type(err).__name__}: {err})"
        ) from None
    _check_v5_length(path, [name for name, _, _ in listing])
    variables = {name: (tuple(int(s) for s in shape), mclass) for name, shape, mclass in listing}
    sources = {name: _MatV5Variable(path, name, shape) for name, (shape, _) in variables.items()}
    return _build(path, "5", variables, sources, lambda name: sources[name].load())


def _check_v5_length(path: str, names: list[str]) -> None:
    """Walk the top-level data elements of a v5 file (an 8-byte tag each: type, byte
    count) and check that the last one ends where the file does. :func:`scipy.io.whosmat`
    silently lists fewer variables from a truncated file; this catches it from the tags
    alone, without reading any data."""
    size = os.path.getsize(path)
    with open(path, "rb") as stream:
        header = stream.read(128)
        endian = {b"IM": "<", b"MI": ">"}.get(header[126:128])
        if endian is None:
            raise DataFormatError(f"{path}: bad MATLAB v5 header (no endian indicator)")
        position, index = 128, 0
        while position < size:
            stream.seek(position)
            tag = stream.read(8)
            if not any(tag):  # zero padding at the end of the file
                break
            if len(tag) < 8:
                raise DataFormatError(
                    f"{path}: truncated MATLAB file (a partial tag at byte {position})"
                )
            kind, n_bytes = struct.unpack(endian + "II", tag)
            end = position + 8 + n_bytes
            if kind == _MI_MATRIX:
                end += -end % 8  # uncompressed elements are padded to 8 bytes
            if end > size:
                name = names[index] if index < len(names) else f"number {index + 1}"
                raise DataFormatError(
                    f"{path}: truncated MATLAB file: variable {name!r} needs {end} bytes, "
                    f"the file has {size}"
                )
            position, index = end, index + 1


# -- MATLAB v7.3: HDF5 --------------------------------------------------------------------


class _ReversedDataset:
    """An ``h5py.Dataset`` written by MATLAB, seen in MATLAB's axis order.

    MATLAB's ``[n, a, b]`` is stored column-major, so HDF5 holds ``[b, a, n]``. Indexing
    ``self[i, j]`` reads ``dataset[..., j, i]`` (only those elements) and reverses the
    axes of what was read.
    """

    def __init__(self, path: str, dataset: h5py.Dataset):
        self.path, self.dataset = path, dataset
        self.shape = tuple(reversed(dataset.shape))

    def __getitem__(self, index):
        index = index if isinstance(index, tuple) else (index,)
        full = [*index, *[slice(None)] * (len(self.shape) - len(index))]
        try:
            block = np.asarray(self.dataset[tuple(reversed(full))])
        except (OSError, RuntimeError, TypeError) as err:
            raise DataFormatError(
                f"{self.path}: cannot read variable {self.dataset.name.lstrip('/')!r} ({err})"
            ) from None
        return block.transpose()


def _matlab_class(node: h5py.HLObject) -> str | None:
    value = node.attrs.get("MATLAB_class")
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0] if value.size else b""
    return value.decode() if isinstance(value, bytes) else str(value)


def _open_v73(path: str) -> FieldFile:
    f = open_hdf5(path, "HDF5 (MATLAB v7.3) file")
    with closed_on_failure(f):
        variables, sources = {}, {}
        for name, node in f.items():
            if name.startswith("#"):  # '#refs#', '#subsystem#': MATLAB's internals
                continue
            mclass = _matlab_class(node) or ("struct" if isinstance(node, h5py.Group) else None)
            if mclass is None:
                raise DataFormatError(
                    f"{path}: {name!r} has no MATLAB_class attribute: not a MATLAB v7.3 file"
                )
            if isinstance(node, h5py.Dataset) and node.attrs.get("MATLAB_empty", 0):
                variables[name] = ((0,), mclass)
            elif isinstance(node, h5py.Dataset) and node.dtype.fields is None:
                sources[name] = _ReversedDataset(path, node)
                variables[name] = (sources[name].shape, mclass)
            else:  # structs, cells, complex numbers
                variables[name] = (tuple(reversed(getattr(node, "shape", ()))), mclass)
        return _build(path, "7.3", variables, sources, lambda name: sources[name][()], f.close)


# -- both versions --------------------------------------------------------------------------


def _sample_count(path: str, arrays: dict[str, tuple[int, ...]], names: list[str]) -> int:
    """``n``: the first axis of the first of :data:`_SAMPLE_NAMES` present, else the most
    common first axis among the arrays of two or more axes."""
    for name in _SAMPLE_NAMES:
        if name in arrays and len(arrays[name]) >= 2:
            return arrays[name][0]
    counts = Counter(shape[0] for name, shape in arrays.items() if name != "t")
    if not counts:
        raise DataFormatError(
            f"{path}: no numeric array of two or more axes [n, *space] to read as a field "
            f"(variables: {names or 'none'})"
        )
    return max(counts, key=lambda n: (counts[n], n))


def _build(
    path: str,
    version: str,
    variables: dict[str, tuple[tuple[int, ...], str]],
    sources: dict[str, Any],
    load,
    close=lambda: None,
) -> FieldFile:
    """The FieldFile of a MATLAB file given its variables' (shape, class), a lazy source
    per readable numeric variable, and ``load(name)`` reading a whole (small) variable."""
    numeric = {
        name: shape
        for name, (shape, mclass) in variables.items()
        if mclass in _NUMERIC and name in sources
    }
    # candidate fields: two or more axes, more than one element (MATLAB scalars are [1, 1])
    arrays = {
        name: shape
        for name, shape in numeric.items()
        if len(shape) >= 2 and min(shape) > 0 and int(np.prod(shape)) > 1
    }
    n = _sample_count(path, arrays, sorted(variables))

    times = None
    t_shape = numeric.get("t")
    if t_shape is not None and int(np.prod(t_shape)) <= _SMALL:
        times = np.asarray(load("t"), np.float64).ravel()
    u_shape = arrays.get("u")
    u_has_time = (
        times is not None
        and u_shape is not None
        and len(u_shape) >= 3
        and u_shape[-1] == len(times)
    )

    fields, params, constants, ignored = {}, {}, {}, []
    for name, (shape, mclass) in variables.items():
        if name in arrays and shape[0] == n and name != "t":
            if name == "u" and u_has_time:
                fields[name] = ArrayField(
                    name=name,
                    source=sources[name],
                    shape=(n, shape[-1], *shape[1:-1], 1),
                    time_dependent=True,
                    channel_names=(name,),
                    to_channels_last=lambda a: np.moveaxis(a, -1, 1)[..., None],
                    time_axis=len(shape) - 1,
                )
            else:
                fields[name] = ArrayField(
                    name=name,
                    source=sources[name],
                    shape=(*shape, 1),
                    time_dependent=False,
                    channel_names=(name,),
                )
        elif name in numeric and int(np.prod(shape)) == 1:
            params[name] = float(np.asarray(load(name)).reshape(-1)[0])
        elif name in numeric and int(np.prod(shape)) <= _SMALL:
            constants[name] = times if name == "t" and times is not None else load(name)
        else:
            ignored.append(f"{name} ({mclass} {list(shape)})")
    if not fields:
        raise DataFormatError(
            f"{path}: no array [n, *space] with n = {n} samples to read as a field "
            f"(variables: {sorted(variables)})"
        )
    attrs = {"mat_version": version, "n_samples": n}
    if ignored:
        attrs["ignored"] = ignored
    return FieldFile(
        path=path,
        format=FORMAT,
        fields=fields,
        times=times if u_has_time else None,
        params=params,
        constants=constants,
        attrs=attrs,
        close_handle=close,
    )
