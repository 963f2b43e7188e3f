"""Tiny files in the Well's HDF5 layout (the Well's docs, "Data format"), for the tests.

:func:`write_well_file` writes a 2D dataset (axes x: 4 points, y: 3 points, so a swapped
axis shows) with every kind of entry the layout has; :func:`pattern` gives the values each
field holds, so a test can compare a read against them.
"""

from __future__ import annotations

import os

import h5py
import numpy as np

N, T, NX, NY, D = 3, 5, 4, 3, 2


def pattern(shape: tuple[int, ...], offset: float = 0.0) -> np.ndarray:
    """Distinct float32 values of ``shape`` (value = flat index + offset)."""
    return (np.arange(int(np.prod(shape)), dtype=np.float32) + offset).reshape(shape)


def expected_fields() -> dict[str, np.ndarray]:
    """What the file's fields hold, in the file's own layout."""
    return {
        "pressure": pattern((N, T, NX, NY)),
        "mask": pattern((N, NX, NY), 1000),  # steady, per sample
        "profile": pattern((NX,), 2000),  # steady, same for all samples, varies along x only
        "forcing": pattern((T, NX, NY), 3000),  # same for all samples, time-varying
        "velocity": pattern((N, T, NX, NY, D), 4000),
        "stress": pattern((N, T, NX, NY, D, D), 5000),
    }


def _field(group, name, data, *, sample=True, time=True, dims=(True, True)):
    dataset = group.create_dataset(name, data=data)
    dataset.attrs["sample_varying"] = sample
    dataset.attrs["time_varying"] = time
    dataset.attrs["dim_varying"] = np.asarray(dims, bool)
    return dataset


def write_well_file(
    path: str | os.PathLike,
    *,
    omit: str | None = None,
    bad_shape: str | None = None,
) -> str:
    """Write a small file of the Well. ``omit`` leaves out one dataset or group (a path such
    as ``"t1_fields/velocity"``); ``bad_shape`` writes that field with one point too few
    along its last axis."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    values = expected_fields()
    if bad_shape is not None:
        values[bad_shape] = values[bad_shape][..., :-1]
    with h5py.File(path, "w") as f:
        f.attrs["dataset_name"] = "tiny_well"
        f.attrs["grid_type"] = "cartesian"
        f.attrs["n_spatial_dims"] = 2
        f.attrs["n_trajectories"] = N
        f.attrs["simulation_parameters"] = ["Reynolds", "gamma"]
        f.attrs["Reynolds"] = 100.0
        f.attrs["gamma"] = 1.4

        dims = f.create_group("dimensions")
        dims.attrs["spatial_dims"] = ["x", "y"]
        for name, data in (
            ("time", np.linspace(0.0, 1.0, T, dtype=np.float32)),
            ("x", np.linspace(0.0, 1.0, NX, dtype=np.float32)),
            ("y", np.linspace(0.0, 2.0, NY, dtype=np.float32)),
        ):
            dims.create_dataset(name, data=data)
            dims[name].attrs["sample_varying"] = False
            dims[name].attrs["time_varying"] = name == "time"

        bcs = f.create_group("boundary_conditions")
        for name, bc_type, dim, size in (
            ("x_periodic", "PERIODIC", "x", NX),
            ("y_wall", "WALL", "y", NY),
        ):
            bc = bcs.create_group(name)
            bc.attrs["bc_type"] = bc_type
            bc.attrs["associated_dims"] = [dim]
            bc.attrs["associated_fields"] = []
            bc.attrs["sample_varying"] = False
            bc.attrs["time_varying"] = False
            mask = np.zeros(size, bool)
            mask[[0, -1]] = True
            bc.create_dataset("mask", data=mask)
            bc.create_dataset("values", data=np.zeros(2, np.float32))

        scalars = f.create_group("scalars")
        scalars.attrs["field_names"] = ["Reynolds", "gamma", "energy", "seed"]
        for name, data, sample, time in (
            ("Reynolds", np.array(100.0), False, False),
            ("gamma", np.array(1.4), False, False),
            ("energy", pattern((T,)), False, True),
            ("seed", pattern((N,), 7), True, False),
        ):
            scalars.create_dataset(name, data=data)
            scalars[name].attrs["sample_varying"] = sample
            scalars[name].attrs["time_varying"] = time

        t0 = f.create_group("t0_fields")
        t0.attrs["field_names"] = ["pressure", "mask", "profile", "forcing"]
        _field(t0, "pressure", values["pressure"])
        _field(t0, "mask", values["mask"], time=False)
        _field(t0, "profile", values["profile"], sample=False, time=False, dims=(True, False))
        _field(t0, "forcing", values["forcing"], sample=False)
        t1 = f.create_group("t1_fields")
        t1.attrs["field_names"] = ["velocity"]
        _field(t1, "velocity", values["velocity"])
        t2 = f.create_group("t2_fields")
        t2.attrs["field_names"] = ["stress"]
        _field(t2, "stress", values["stress"])
        if omit is not None:
            del f[omit]
    return path


def write_huge_well_file(path: str | os.PathLike) -> str:
    """A file of the Well whose one field is declared ``[1000, 1000, 1024, 1024]`` (4 TB of
    float32) and never written: opening it must not touch the data."""
    path = os.fspath(path)
    with h5py.File(path, "w") as f:
        f.attrs.update(dataset_name="huge", grid_type="cartesian", n_spatial_dims=2)
        f.attrs["n_trajectories"] = 1000
        f.attrs["simulation_parameters"] = []
        dims = f.create_group("dimensions")
        dims.attrs["spatial_dims"] = ["x", "y"]
        for name, size in (("time", 1000), ("x", 1024), ("y", 1024)):
            dims.create_dataset(name, data=np.arange(size, dtype=np.float32))
            dims[name].attrs["sample_varying"] = False
        f.create_group("scalars").attrs["field_names"] = []
        t0 = f.create_group("t0_fields")
        t0.attrs["field_names"] = ["u"]
        u = t0.create_dataset(
            "u", shape=(1000, 1000, 1024, 1024), dtype=np.float32, chunks=(1, 1, 256, 256)
        )
        u.attrs["sample_varying"] = True
        u.attrs["time_varying"] = True
        u.attrs["dim_varying"] = np.asarray([True, True])
    return path


def write_stats(path: str | os.PathLike) -> str:
    """A ``stats.yaml`` as the Well ships it (fields' means and stds; t2 as nested lists)."""
    path = os.fspath(path)
    with open(path, "w") as handle:
        handle.write(
            "mean:\n"
            "  pressure: 1.5\n"
            "  velocity:\n  - 0.1\n  - 0.2\n"
            "  stress:\n  - - 1.0\n    - 2.0\n  - - 3.0\n    - 4.0\n"
            "std:\n"
            "  pressure: 2.0\n"
            "  velocity:\n  - 0.5\n  - 0.25\n"
            "  stress:\n  - - 5.0\n    - 6.0\n  - - 7.0\n    - 8.0\n"
        )
    return path
