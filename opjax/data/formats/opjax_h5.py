"""opjax's own HDF5 dataset layout (what ``opjax generate`` writes) and its reader.

One file holds one split (``train.h5``, ``test.h5``) of ``n`` samples::

    /fields/<name>       float32 [n, n_times, *space] (trajectories) or [n, *space] (steady)
    /params/<name>       float   [n]            per-sample PDE parameters (e.g. domain_length)
    /coordinates/<axis>  float64 [n_points]     grid points along each axis, or
                                 [n, n_points]  when the domain varies per sample
    /times               float64 [n_times]      the saved times (trajectory datasets)

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
import re

import h5py
import numpy as np

from opjax.data.errors import DataFormatError
from opjax.data.sample import Sample, validate_sample

FORMAT = "opjax-h5"
FORMAT_VERSION = 1

# "u", "u[0]", "u[-1]", "u[3:7]": a field, optionally indexed along its time axis.
_KEY = re.compile(r"^\s*([A-Za-z_][\w]*)\s*(?:\[\s*(-?\d*)\s*(?::\s*(-?\d*)\s*)?\])?\s*$")


def open_dataset(path: str | os.PathLike) -> h5py.File:
    """Open an opjax HDF5 file for reading, checking that it is one and that it is whole."""
    path = os.fspath(path)
    if not os.path.exists(path):
        partial = path + ".partial"
        hint = (
            f" (an unfinished {partial} exists: rerun opjax generate)"
            if os.path.exists(partial)
            else ""
        )
        raise FileNotFoundError(f"{path}: no such dataset file{hint}")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise DataFormatError(f"{path}: not a readable HDF5 file ({err})") from err
    if f.attrs.get("format") != FORMAT:
        f.close()
        raise DataFormatError(f"{path}: not an opjax dataset (root attribute format != {FORMAT!r})")
    if not bool(f.attrs.get("complete", False)):
        written, total = f.attrs.get("n_written", "?"), f.attrs.get("n_samples", "?")
        f.close()
        raise DataFormatError(f"{path}: incomplete dataset ({written} of {total} samples written)")
    return f


def parse_field_key(key: str) -> tuple[str, slice | int | None]:
    """Split a field key into name and time index.

    ``"u[-1]"`` -> ``("u", -1)``; ``"u[2:5]"`` -> ``("u", slice(2, 5))``;
    ``"a"`` -> ``("a", None)``.
    """
    match = _KEY.match(key)
    if not match:
        raise DataFormatError(
            f"bad field key {key!r}: expected NAME, NAME[i] or NAME[i:j] (time index)"
        )
    name, start, stop = match.groups()
    if stop is None and start is None:
        return name, None
    if stop is None and ":" not in key:
        if not start:
            raise DataFormatError(f"bad field key {key!r}: empty time index")
        return name, int(start)
    return name, slice(int(start) if start else None, int(stop) if stop else None)


def _read_fields(f: h5py.File, path: str, key: str, n: int) -> np.ndarray:
    """The fields ``key`` names (comma-separated, stacked as channels): ``[n, ..., c]``."""
    channels = []
    for part in key.split(","):
        name, time_index = parse_field_key(part)
        if name not in f.get("fields", {}):
            known = sorted(f["fields"]) if "fields" in f else []
            raise DataFormatError(f"{path}: no field {name!r} (fields: {known})")
        dataset = f["fields"][name]
        if time_index is None:
            array = dataset[:n]
        else:
            if not dataset.attrs.get("time_dependent", False):
                raise DataFormatError(f"{path}: field {name!r} has no time axis to index")
            n_times = dataset.shape[1]
            if isinstance(time_index, int) and not -n_times <= time_index < n_times:
                raise DataFormatError(
                    f"{path}: time index {time_index} of field {name!r} is out of range "
                    f"({n_times} saved times)"
                )
            array = dataset[:n, time_index]
        channels.append(np.asarray(array, np.float32))
    shapes = {c.shape for c in channels}
    if len(shapes) != 1:
        raise DataFormatError(f"{path}: fields {key!r} have different shapes {sorted(shapes)}")
    return np.stack(channels, axis=-1)


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
    path = os.fspath(path)
    with open_dataset(path) as f:
        available = int(f.attrs["n_samples"])
        n = available if n_samples is None else n_samples
        if n > available:
            raise DataFormatError(f"{path}: asked for {n} samples, file has {available}")
        sample = {"x": _read_fields(f, path, x_key, n), "y": _read_fields(f, path, y_key, n)}
    return validate_sample(sample, source=path)
