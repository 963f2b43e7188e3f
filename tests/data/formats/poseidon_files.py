"""Tiny files in the layouts of Poseidon's datasets (camlab-ethz on the Hugging Face Hub), for
the tests.

The real files are NetCDF4: HDF5 with one dataset per variable, dimension scales
(``sample``, ``time``, ``channel``, ``x``, ``y``) and a ``_NCProperties`` root attribute;
:func:`write_nc` writes the same with h5py, chunked one sample and time per chunk as the
Hub's ``assemble_data.py`` does. A file may declare all of a dataset's samples (so its
splits exist) and write only a few (unwritten chunks cost nothing and read as 0).
Variable layouts, from the Hub's dataset cards::

    NS-*         velocity [N, 21, 3 (u, v, tracer) or 2, X, Y]
    FNS-KF       solution [N, 21, 2, X, Y]
    CE-RP etc.   data     [N, 21, 5 (rho, u, v, p, E), X, Y]
    CE-RM        solution [N, 21, 5 (rho, u, v, p, tracer), X, Y]
    GCE-RT       solution [N, 11, 6 (rho, u, v, p, tracer, potential), X, Y]
    Wave-*       solution [N, T, X, Y], c [N, X, Y]
    ACE          solution [N, 20, X, Y]
    Poisson-Gauss source, solution [N, X, Y]
    SE-AF        solution [N, 2 (airfoil, density), X, Y]
    Helmholtz.h5 /Sample_<i>/{a [X, Y], u [X, Y], bc scalar}
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import h5py
import numpy as np

NX, NY = 8, 6  # not square, so a swapped axis shows

_DIMS = {
    5: ("sample", "time", "channel", "x", "y"),
    4: ("sample", "time", "x", "y"),
    3: ("sample", "x", "y"),
}


def sample_values(shape: tuple[int, ...], i: int) -> np.ndarray:
    """What sample ``i`` of a variable holds (its shape without the sample axis): the flat
    index plus ``i``, so both the layout and the sample show in the values."""
    return (np.arange(int(np.prod(shape)), dtype=np.float32) + i).reshape(shape)


def write_nc(
    path: str | os.PathLike,
    variables: dict[str, tuple[int, ...]],
    written: Iterable[int] = (0, 1),
    *,
    dims: dict[str, tuple[str, ...]] | None = None,
    compression: str | None = None,
) -> str:
    """Write a NetCDF4-like file: each variable ``name -> shape`` (samples first), declared
    whole, with :func:`sample_values` written for the samples in ``written``."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with h5py.File(path, "w") as f:
        f.attrs["_NCProperties"] = "version=2,netcdf=4.9.2,hdf5=1.14.3"
        scales = {}
        for name, shape in variables.items():
            names = (dims or {}).get(name, _DIMS.get(len(shape)))
            for dim, size in zip(names, shape):
                if dim not in scales:
                    scale = f.create_dataset(dim, shape=(size,), dtype=np.float32)
                    scale.make_scale(
                        "This is a netCDF dimension but not a netCDF variable. " + str(size)
                    )
                    scales[dim] = scale
            chunks = (1, *shape[1:]) if len(shape) < 4 else (1, 1, *shape[2:])
            variable = f.create_dataset(
                name, shape=shape, dtype=np.float32, chunks=chunks, compression=compression
            )
            for axis, dim in enumerate(names):
                variable.dims[axis].attach_scale(scales[dim])
            for i in written:
                variable[i] = sample_values(shape[1:], i)
    return path


def layout(dataset: str, n: int, n_times: int | None = None) -> dict[str, tuple[int, ...]]:
    """The variables of ``dataset`` with ``n`` samples, on an ``NX x NY`` grid."""
    if dataset.startswith("NS-"):
        channels = 2 if dataset == "NS-SL" else 3
        return {"velocity": (n, n_times or 21, channels, NX, NY)}
    if dataset == "FNS-KF":
        return {"solution": (n, n_times or 21, 2, NX, NY)}
    if dataset in ("CE-RP", "CE-CRP", "CE-KH", "CE-Gauss", "CE-RPUI"):
        return {"data": (n, n_times or 21, 5, NX, NY)}
    if dataset == "CE-RM":
        return {"solution": (n, n_times or 21, 5, NX, NY)}
    if dataset == "GCE-RT":
        return {"solution": (n, n_times or 11, 6, NX, NY)}
    if dataset.startswith("Wave-"):
        steps = n_times or (15 if dataset == "Wave-Gauss" else 21)
        return {"solution": (n, steps, NX, NY), "c": (n, NX, NY)}
    if dataset == "ACE":
        return {"solution": (n, n_times or 20, NX, NY)}
    if dataset == "Poisson-Gauss":
        return {"source": (n, NX, NY), "solution": (n, NX, NY)}
    if dataset == "SE-AF":
        return {"solution": (n, 2, NX, NY)}
    raise KeyError(dataset)


def write_dataset(
    folder: str | os.PathLike,
    dataset: str,
    n: int,
    written: Iterable[int] = (0, 1),
    *,
    name: str | None = None,
    n_times: int | None = None,
) -> str:
    """Write ``<folder>/<name or dataset>.nc`` in ``dataset``'s layout."""
    path = os.path.join(os.fspath(folder), f"{name or dataset}.nc")
    dims = {"solution": ("sample", "channel", "x", "y")} if dataset == "SE-AF" else None
    return write_nc(path, layout(dataset, n, n_times), written, dims=dims)


def write_helmholtz(path: str | os.PathLike, n: int = 4) -> str:
    """Write a ``Helmholtz.h5``: ``Sample_<i>`` groups with ``a``, ``u`` and ``bc``."""
    path = os.fspath(path)
    with h5py.File(path, "w") as f:
        for i in range(n):
            group = f.create_group(f"Sample_{i}")
            group["a"] = sample_values((NX, NY), i)
            group["u"] = sample_values((NX, NY), 100 + i)
            group["bc"] = np.float64(0.5 * i)
    return path
