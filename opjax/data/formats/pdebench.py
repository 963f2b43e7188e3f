"""PDEBench's released HDF5 files, opened lazily as a :class:`~opjax.data.fields.FieldFile`.

PDEBench (Takamoto et al., 2022) ships its data in five layouts; :func:`open_pdebench`
recognises each by its keys. ``n`` is the number of samples, ``n_t`` of saved times.

**Scalar equations** (1D advection, Burgers, reaction-diffusion; any ``tensor`` file)::

    tensor           [n, n_t, *space]       (or [n, n_t, *space, c], see below)
    x-coordinate     [nx]   (y-coordinate [ny], z-coordinate [nz] in 2D/3D)
    t-coordinate     [n_t + 1] or [n_t]

  -> field ``tensor`` ``[n, n_t, *space, c]`` (``c = 1`` unless the file has a channel
  axis). The number of spatial axes is the number of ``*-coordinate`` datasets for x, y
  and z; a ``tensor`` with one axis more than that ends in channels. Without coordinates,
  ``tensor`` is taken to be ``[n, n_t, *space]``.

**Darcy flow** (``2D_DarcyFlow_beta*_Train.hdf5``)::

    nu               [n, nx, ny]            the coefficient a(x)
    tensor           [n, 1, nx, ny]         the steady solution u(x)
    x-coordinate, y-coordinate

  -> steady fields ``nu`` ``[n, nx, ny, 1]`` and ``tensor`` ``[n, nx, ny, 1]`` (the
  singleton time axis is dropped).

**Compressible Navier-Stokes** (``1D/2D/3D_CFD_*.hdf5``)::

    density, pressure, Vx (, Vy (, Vz))   each [n, n_t, *space]
    x-coordinate (, y-coordinate (, z-coordinate)), t-coordinate

  -> fields ``density``, ``pressure``, ``Vx``, ``Vy``, ``Vz`` (each
  ``[n, n_t, *space, 1]``) and ``velocity`` ``[n, n_t, *space, dim]``, the components
  stacked as channels.

**One group per seed** (``2D_diff-react_NA_NA.h5``, ``2D_rdb_NA_NA.h5`` shallow water,
``1D_diff-sorp_NA_NA.h5``)::

    /0000/data       [n_t, *space, c]
    /0000/grid/x     [nx]   (grid/y [ny], grid/z [nz])
    /0000/grid/t     [n_t] (or [n_t + 1])
    /0001/...

  -> field ``data`` ``[n, n_t, *space, c]``, sample ``i`` read from the ``i``-th group in
  sorted key order (as PDEBench's ``FNODatasetMult`` orders them); grid and times come
  from the first group.

**Incompressible Navier-Stokes** (``ns_incom_inhom_2d_512-*.h5``)::

    velocity [n, n_t, nx, ny, 2]   particles [n, n_t, nx, ny, 1]   force [n, nx, ny, 2]
    t        [n, n_t]

  -> fields ``velocity``, ``particles`` (time-dependent) and ``force`` (steady), already
  channels-last. ``times`` is the first row of ``t`` when all rows agree; otherwise the
  per-sample times are kept in ``attrs["sample_times"]``.

**Times.** PDEBench's generators save ``t-coordinate = arange(n_t + 1) * dt_save`` next to
``n_t`` saved states, state ``k`` being the solution at ``k * dt_save``: the extra last
entry belongs to no state. ``times`` is therefore the first ``n_t`` entries of
``t-coordinate`` (all of it when it has exactly ``n_t``).

**Parameters.** Numeric root attributes (``beta`` for advection and Darcy, ``Nu`` for
Burgers, ``Nu`` and ``rho`` for reaction-diffusion, ``eta``, ``zeta`` and ``M`` for CFD)
become file-wide ``params``; every root attribute is also kept in ``attrs``.

Opening reads only keys, shapes, attributes and the small coordinate arrays; a field
reads from disk only the samples and times asked for.
"""

from __future__ import annotations

import os
import re

import h5py
import numpy as np

from opjax.data.errors import DataFormatError
from opjax.data.fields import ArrayField, FieldFile, LazyField, StackedField, time_index
from opjax.data.formats.hdf5 import closed_on_failure, open_hdf5

FORMAT = "pdebench"

__all__ = ["FORMAT", "detect_pdebench", "open_pdebench"]

_AXES = ("x", "y", "z")
_CFD_SCALARS = ("density", "pressure")
_VELOCITY = ("Vx", "Vy", "Vz")
_SEED = re.compile(r"^\d+$")


class _Dataset:
    """An ``h5py.Dataset`` whose read errors name the file and key (a truncated file can
    open and still fail when the data are read)."""

    def __init__(self, path: str, dataset: h5py.Dataset):
        self.path, self.dataset = path, dataset
        self.shape = dataset.shape

    def __getitem__(self, index):
        try:
            return self.dataset[index]
        except (OSError, RuntimeError) as err:
            raise DataFormatError(
                f"{self.path}: cannot read {_key(self.dataset)!r} ({err})"
            ) from None


def _layout(f: h5py.File) -> str | None:
    """Which PDEBench layout ``f`` has, from its keys alone (None: not PDEBench)."""
    keys = set(f.keys())
    if "tensor" in keys:
        return "darcy" if "nu" in keys else "tensor"
    if "density" in keys or "Vx" in keys:
        return "cfd"
    if "velocity" in keys and "particles" in keys:
        return "ns_incom"
    if keys and all(_SEED.match(k) for k in keys):
        first = f.get(min(keys))
        if isinstance(first, h5py.Group) and isinstance(first.get("data"), h5py.Dataset):
            return "per_seed"
    return None


def detect_pdebench(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an HDF5 file in one of PDEBench's layouts (reads only keys)."""
    try:
        with h5py.File(os.fspath(path), "r") as f:
            return _layout(f) is not None
    except (OSError, ValueError):
        return False


def open_pdebench(path: str | os.PathLike) -> FieldFile:
    """Open a PDEBench HDF5 file lazily.

    Returns:
        A :class:`FieldFile` with ``format="pdebench"``; its fields, times, coordinates
        and params as the module docstring lists per layout, and ``attrs["layout"]`` one
        of ``"tensor"``, ``"darcy"``, ``"cfd"``, ``"per_seed"``, ``"ns_incom"``.

    Raises:
        FileNotFoundError: no file at ``path``.
        DataFormatError: not a readable HDF5 file, not a PDEBench layout, or a key with
            the wrong shape (the message names the file, the key and the shape expected).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such PDEBench file")
    f = open_hdf5(path)
    with closed_on_failure(f):
        layout = _layout(f)
        if layout is None:
            raise DataFormatError(
                f"{path}: not a PDEBench file: expected a 'tensor' dataset, CFD datasets "
                f"('density', 'pressure', 'Vx', ...), 'velocity' and 'particles', or one "
                f"group per seed ('0000/data', ...); found keys {sorted(f.keys())[:10]}"
            )
        build = {
            "tensor": _tensor_layout,
            "darcy": _darcy_layout,
            "cfd": _cfd_layout,
            "per_seed": _per_seed_layout,
            "ns_incom": _ns_incom_layout,
        }[layout]
        fields, times, coordinates, extra = build(path, f)
        attrs = {k: _plain(v) for k, v in f.attrs.items()}
        params = {
            k: float(v)
            for k, v in attrs.items()
            if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
        }
        return FieldFile(
            path=path,
            format=FORMAT,
            fields=fields,
            times=times,
            coordinates=coordinates,
            params=params,
            attrs={**attrs, **extra, "layout": layout},
            close_handle=f.close,
        )


def _plain(value):
    """An attribute value as a plain Python value where it is a scalar."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(())[()]
    return value.item() if isinstance(value, np.generic) else value


def _dataset(path: str, f: h5py.Group, key: str, min_ndim: int, expected: str) -> h5py.Dataset:
    """``f[key]``, checked to be a dataset of at least ``min_ndim`` axes."""
    node = f.get(key)
    if not isinstance(node, h5py.Dataset):
        what = "missing" if node is None else "not a dataset"
        full = f"{f.name}/{key}".strip("/")
        raise DataFormatError(f"{path}: key {full!r} is {what}; expected {expected}")
    if len(node.shape) < min_ndim:
        raise DataFormatError(f"{path}: {_key(node)!r} has shape {node.shape}, expected {expected}")
    return node


def _key(node: h5py.HLObject) -> str:
    """The HDF5 path of ``node`` without the leading slash (``tensor``, ``0001/data``)."""
    return node.name.lstrip("/")


def _read_small(path: str, dataset: h5py.Dataset) -> np.ndarray:
    try:
        return np.asarray(dataset[()])
    except (OSError, RuntimeError) as err:
        raise DataFormatError(f"{path}: cannot read {_key(dataset)!r} ({err})") from None


def _coordinates(path: str, group: h5py.Group, names: dict[str, str], space: tuple[int, ...]):
    """Read coordinate datasets ``names`` (axis -> key) and check them against ``space``."""
    coordinates = {}
    for axis, size in zip(_AXES, space):
        key = names[axis]
        if key not in group:
            continue
        values = _read_small(path, group[key]).ravel()
        if values.size != size:
            raise DataFormatError(
                f"{path}: {_key(group[key])!r} has {values.size} points, expected {size} "
                f"(the field's {axis} axis)"
            )
        coordinates[axis] = values
    return coordinates


def _times(path: str, dataset: h5py.Dataset | None, n_times: int) -> np.ndarray | None:
    """The ``n_times`` saved times: PDEBench stores ``n_times + 1`` (or ``n_times``)."""
    if dataset is None:
        return None
    values = _read_small(path, dataset).ravel()
    if values.size not in (n_times, n_times + 1):
        raise DataFormatError(
            f"{path}: {_key(dataset)!r} has {values.size} entries, expected {n_times} or "
            f"{n_times + 1} for {n_times} saved times"
        )
    return values[:n_times].astype(np.float64)


def _n_space(f: h5py.Group) -> int:
    """How many of x-, y-, z-coordinate the file has (0 when it has none)."""
    return sum(f"{axis}-coordinate" in f for axis in _AXES)


def _tensor_layout(path, f):
    tensor = _dataset(path, f, "tensor", 3, "[n, n_t, *space]")
    n_space = _n_space(f) or tensor.ndim - 2
    if tensor.ndim == n_space + 2:
        shape, mapping = (*tensor.shape, 1), lambda a: a[..., None]
    elif tensor.ndim == n_space + 3:
        shape, mapping = tuple(tensor.shape), lambda a: a
    else:
        raise DataFormatError(
            f"{path}: 'tensor' has shape {tensor.shape}, expected [n, n_t, *space] or "
            f"[n, n_t, *space, c] with {n_space} spatial axes (one per *-coordinate)"
        )
    field = ArrayField(
        name="tensor",
        source=_Dataset(path, tensor),
        shape=shape,
        time_dependent=True,
        channel_names=_channel_names("tensor", shape[-1]),
        to_channels_last=mapping,
    )
    space = shape[2:-1]
    coordinates = _coordinates(path, f, {a: f"{a}-coordinate" for a in _AXES}, space)
    times = _times(path, f.get("t-coordinate"), shape[1])
    return {"tensor": field}, times, coordinates, {}


def _darcy_layout(path, f):
    nu = _dataset(path, f, "nu", 2, "[n, nx, ny] (the Darcy coefficient)")
    tensor = _dataset(path, f, "tensor", 3, "[n, 1, nx, ny] (the Darcy solution)")
    if tensor.shape[1] != 1 or tensor.shape[:1] + tensor.shape[2:] != nu.shape:
        raise DataFormatError(
            f"{path}: 'tensor' has shape {tensor.shape}, expected [n, 1, *space] = "
            f"{(nu.shape[0], 1, *nu.shape[1:])} to match 'nu' {nu.shape}"
        )
    fields = {
        "nu": ArrayField(
            name="nu",
            source=_Dataset(path, nu),
            shape=(*nu.shape, 1),
            time_dependent=False,
            channel_names=("nu",),
        ),
        "tensor": ArrayField(
            name="tensor",
            source=_Dataset(path, tensor),
            shape=(*nu.shape, 1),
            time_dependent=False,
            channel_names=("tensor",),
            to_channels_last=lambda a: a[:, 0, ..., None],
        ),
    }
    coordinates = _coordinates(path, f, {a: f"{a}-coordinate" for a in _AXES}, nu.shape[1:])
    return fields, None, coordinates, {}


def _cfd_layout(path, f):
    expected = "[n, n_t, *space]"
    first = _dataset(path, f, "density" if "density" in f else "Vx", 3, expected)
    dim = first.ndim - 2
    if dim > 3:
        raise DataFormatError(
            f"{path}: {_key(first)!r} has shape {first.shape}, "
            f"expected {expected} with at most 3 spatial axes"
        )
    names = (*_CFD_SCALARS, *_VELOCITY[:dim])
    fields = {}
    for name in names:
        dataset = _dataset(path, f, name, 3, f"{expected} = {first.shape} like {_key(first)!r}")
        if dataset.shape != first.shape:
            raise DataFormatError(
                f"{path}: {name!r} has shape {dataset.shape}, expected {first.shape} "
                f"like {_key(first)!r} ({dim}D compressible Navier-Stokes)"
            )
        fields[name] = ArrayField(
            name=name,
            source=_Dataset(path, dataset),
            shape=(*dataset.shape, 1),
            time_dependent=True,
            channel_names=(name,),
        )
    fields["velocity"] = StackedField(
        name="velocity", parts=[fields[name] for name in _VELOCITY[:dim]]
    )
    space = first.shape[2:]
    coordinates = _coordinates(path, f, {a: f"{a}-coordinate" for a in _AXES}, space)
    times = _times(path, f.get("t-coordinate"), first.shape[1])
    return fields, times, coordinates, {}


def _ns_incom_layout(path, f):
    velocity = _dataset(path, f, "velocity", 4, "[n, n_t, *space, dim]")
    n, n_times, space = velocity.shape[0], velocity.shape[1], velocity.shape[2:-1]
    fields = {
        "velocity": ArrayField(
            name="velocity",
            source=_Dataset(path, velocity),
            shape=tuple(velocity.shape),
            time_dependent=True,
            channel_names=tuple(f"v{a}" for a in _AXES[: velocity.shape[-1]]),
            to_channels_last=lambda a: a,
        )
    }
    for name, time_dependent in (("particles", True), ("force", False)):
        if name not in f:
            continue
        dataset = _dataset(path, f, name, 3, "")
        lead = (n, n_times) if time_dependent else (n,)
        if dataset.shape[:-1] != (*lead, *space):
            raise DataFormatError(
                f"{path}: {name!r} has shape {dataset.shape}, expected "
                f"[{', '.join(map(str, (*lead, *space)))}, c] to match 'velocity' {velocity.shape}"
            )
        fields[name] = ArrayField(
            name=name,
            source=_Dataset(path, dataset),
            shape=tuple(dataset.shape),
            time_dependent=time_dependent,
            channel_names=_channel_names(name, dataset.shape[-1]),
            to_channels_last=lambda a: a,
        )
    times, extra = None, {}
    if "t" in f:
        t = _read_small(path, f["t"])
        t = t.reshape(-1, t.shape[-1]) if t.ndim else t.reshape(1, 1)
        if t.shape[-1] != n_times:
            raise DataFormatError(
                f"{path}: 't' has shape {f['t'].shape}, expected [n, {n_times}] (the saved times)"
            )
        if np.all(t == t[:1]):
            times = t[0].astype(np.float64)
        else:
            extra["sample_times"] = t
    return fields, times, {}, extra


class SeedGroupsField(LazyField):
    """PDEBench's one-group-per-seed layout as one field ``[n, n_t, *space, c]``.

    Sample ``i`` is ``file[keys[i]]["data"]`` (``[n_t, *space, c]``); reading a block of
    samples reads each requested group's dataset, and only the requested times of it.
    """

    def __init__(self, path: str, name: str, datasets: list[h5py.Dataset]):
        self.path, self.name, self.datasets = path, name, datasets
        inner = datasets[0].shape
        self.shape = (len(datasets), *inner)
        self.time_dependent = True
        self.channel_names = _channel_names(name, inner[-1])

    def read(self, samples, times=None):
        times = time_index(self, times)
        indices = np.arange(self.n_samples)[samples]
        blocks = []
        for i in indices:
            dataset = self.datasets[i]
            try:
                blocks.append(np.asarray(dataset[times], np.float32))
            except (OSError, RuntimeError) as err:
                raise DataFormatError(
                    f"{self.path}: cannot read {_key(dataset)!r} ({err})"
                ) from None
        if not blocks:
            time_shape = () if isinstance(times, int) else (len(range(self.shape[1])[times]),)
            return np.zeros((0, *time_shape, *self.shape[2:]), np.float32)
        return np.stack(blocks)


def _per_seed_layout(path, f):
    keys = sorted(f.keys())
    datasets = []
    for key in keys:
        group = f[key]
        if not isinstance(group, h5py.Group):
            raise DataFormatError(
                f"{path}: {key!r} is not a group; expected a seed group with 'data'"
            )
        datasets.append(_dataset(path, group, "data", 3, "[n_t, *space, c]"))
    first = datasets[0]
    for dataset in datasets[1:]:
        if dataset.shape != first.shape:
            raise DataFormatError(
                f"{path}: {_key(dataset)!r} has shape {dataset.shape}, expected {first.shape} "
                f"like {_key(first)!r}"
            )
    field = SeedGroupsField(path, "data", datasets)
    grid = f[keys[0]].get("grid")
    coordinates, times = {}, None
    if isinstance(grid, h5py.Group):
        coordinates = _coordinates(path, grid, {a: a for a in _AXES}, field.spatial_shape)
        times = _times(path, grid.get("t"), field.shape[1])
    extra = {"seeds": f"{len(keys)} groups, {keys[0]} to {keys[-1]}"}
    config = f[keys[0]].attrs.get("config")
    if config is not None:
        extra["config"] = _plain(config)
    return {"data": field}, times, coordinates, extra


def _channel_names(name: str, n_channels: int) -> tuple[str, ...]:
    return (name,) if n_channels == 1 else tuple(f"{name}{i}" for i in range(n_channels))
