"""Writers of tiny PDEBench files in each released layout (see opjax/data/formats/pdebench.py).

Values are ``values(shape, offset)``: consecutive numbers, so a test can tell which
sample, time and point it read.
"""

from __future__ import annotations

import h5py
import numpy as np


def values(shape, offset=0.0):
    """``offset + arange`` over ``shape``, float32."""
    return (offset + np.arange(int(np.prod(shape)), dtype=np.float32)).reshape(shape)


def _coordinates(f, space, prefix="", suffix="-coordinate"):
    for axis, size in zip("xyz", space):
        f[f"{prefix}{axis}{suffix}"] = (np.arange(size) + 0.5) / size


def write_tensor(path, n=3, n_t=4, space=(8,), channels=None, extra_time=True, **attrs):
    """1D advection/Burgers/reaction-diffusion: ``tensor [n, n_t, *space(, c)]``,
    coordinates, ``t-coordinate [n_t + 1]`` (PDEBench's) or ``[n_t]``, root attributes."""
    shape = (n, n_t, *space) + ((channels,) if channels else ())
    with h5py.File(path, "w") as f:
        f["tensor"] = values(shape)
        _coordinates(f, space)
        f["t-coordinate"] = np.arange(n_t + int(extra_time)) * 0.05
        f.attrs.update(attrs)
    return path


def write_darcy(path, n=3, space=(6, 5), beta=1.0):
    """2D Darcy flow: ``nu [n, nx, ny]``, ``tensor [n, 1, nx, ny]``, x/y coordinates."""
    with h5py.File(path, "w") as f:
        f["nu"] = values((n, *space), offset=1000.0)
        f["tensor"] = values((n, 1, *space))
        _coordinates(f, space)
        f.attrs["beta"] = beta
    return path


def write_cfd(path, n=3, n_t=4, space=(6, 5), eta=0.01, zeta=0.01, m=0.1):
    """Compressible Navier-Stokes: ``density``, ``pressure``, ``Vx`` (``Vy``, ``Vz``), each
    ``[n, n_t, *space]``, coordinates, ``t-coordinate [n_t + 1]``."""
    names = ("density", "pressure", "Vx", "Vy", "Vz")[: 2 + len(space)]
    shape = (n, n_t, *space)
    with h5py.File(path, "w") as f:
        for i, name in enumerate(names):
            f[name] = values(shape, offset=10000.0 * i)
        _coordinates(f, space)
        f["t-coordinate"] = np.arange(n_t + 1) * 0.05
        f.attrs.update(eta=eta, zeta=zeta)
        if len(space) > 1:
            f.attrs["M"] = m
    return path


def seed_data(seed, n_t, space, channels):
    """What :func:`write_per_seed` stores in group ``seed``: ``[n_t, *space, c]``."""
    return values((n_t, *space, channels), offset=1000.0 * seed)


def write_per_seed(path, n=3, n_t=4, space=(6, 5), channels=2, extra_time=False):
    """2D diffusion-reaction / shallow water: groups ``0000``, ``0001``... each holding
    ``data [n_t, *space, c]`` and ``grid/x``, ``grid/y``, ``grid/t``."""
    with h5py.File(path, "w") as f:
        for seed in range(n):
            group = f.create_group(str(seed).zfill(4))
            group.create_dataset("data", data=seed_data(seed, n_t, space, channels))
            _coordinates(group, space, prefix="grid/", suffix="")
            group["grid/t"] = np.linspace(0, 1, n_t + int(extra_time)).astype(np.float32)
            group.attrs["config"] = f"sim: {{seed: {seed}}}"
    return path


def write_ns_incom(path, n=2, n_t=4, space=(6, 5)):
    """Incompressible Navier-Stokes: ``velocity [n, n_t, *space, 2]``,
    ``particles [n, n_t, *space, 1]``, ``force [n, *space, 2]``, ``t [n, n_t]``."""
    with h5py.File(path, "w") as f:
        f["velocity"] = values((n, n_t, *space, 2))
        f["particles"] = values((n, n_t, *space, 1), offset=5000.0)
        f["force"] = values((n, *space, 2), offset=9000.0)
        f["t"] = np.tile(np.linspace(0, 1, n_t), (n, 1))
    return path
