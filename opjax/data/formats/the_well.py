"""The Well (PolymathicAI/the_well): its HDF5 layout, read lazily as a :class:`FieldFile`.

One file holds ``n_trajectories`` trajectories of one dataset (its ``data/train``,
``data/valid`` or ``data/test`` folder says which split). The layout (the Well's docs,
"Data format"; ``@`` marks an attribute)::

    /                       @dataset_name @grid_type @n_spatial_dims @n_trajectories
                            @simulation_parameters [names], and @<name> for each of them
    /dimensions             @spatial_dims ["x", "y", ...]
      time                  [T] (or [n, T] when @sample_varying)
      <d>                   [N_d] (or [n, N_d]) grid points along spatial axis d
    /boundary_conditions/<bc>   @bc_type @associated_dims @associated_fields,
                                datasets mask (bool) and values
    /scalars                @field_names; each [n?, T?] per @sample_varying, @time_varying
    /t0_fields/<f>          [n?, T?, *space?]              scalar fields
    /t1_fields/<f>          [n?, T?, *space?, D]           vector fields
    /t2_fields/<f>          [n?, T?, *space?, D, D]        tensor fields

Each field carries ``@sample_varying``, ``@time_varying`` and ``@dim_varying`` (one bool
per spatial axis): a field that does not vary along an axis has no such axis in the file.

What this reader makes of it, channels-last (``D`` spatial dimensions)::

    t0 field f  ->  f [n, T, *space, 1]      channel  f
    t1 field f  ->  f [n, T, *space, D]      channels f_x, f_y, ...
    t2 field f  ->  f [n, T, *space, D*D]    channels f_xx, f_xy, f_yx, f_yy, ... (row-major)

(the Well's own channel names). A field that is not time-varying is steady,
``[n, *space, c]``. Axes a field does not vary along (samples, or a spatial axis) are
broadcast lazily when read, so every field has the full ``[n, ..., *space, c]`` shape.

The rest of the file:

* ``times``: ``/dimensions/time`` (``None`` when it varies per sample: it is then
  ``coordinates["time"]``, ``[n, T]``);
* ``coordinates``: each spatial axis, ``[N_d]`` (``[n, N_d]`` when sample-varying);
* ``params``: ``/scalars`` (file-wide scalars as floats, per-sample ones ``[n]``,
  time-varying ones keep their time axis) and any simulation parameter missing there;
* ``attrs``: ``dataset_name``, ``grid_type``, ``spatial_dims``, ``n_trajectories``,
  ``simulation_parameters``, ``boundary_conditions`` (``{bc: {bc_type, associated_dims,
  associated_fields}}``) and ``boundaries`` (``{axis: [low, high]}`` boundary types, read
  from the masks as the Well's padding does; ``"open"`` unless stated), ``split``;
* ``splits``: ``{split: all samples}`` when the file sits in a ``train``, ``valid`` or
  ``test`` folder;
* ``constants``: the dataset's normalisation statistics from ``<dataset>/stats.yaml``
  (``mean``, ``std``, ``mean_delta``, ``std_delta``, ``rms``, ...), each
  ``{field: per-channel array}`` in the channel order above, when that file is found
  (``stats=`` names another) and PyYAML is installed.

Opening reads only metadata (and the small grids); reading a field reads only the
requested samples and times.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Sequence

import h5py
import numpy as np

from opjax.data.errors import DataFormatError
from opjax.data.fields import ArrayField, FieldFile
from opjax.data.formats.hdf5 import DatasetSource, closed_on_failure, is_hdf5_file, open_hdf5

__all__ = ["FIELD_GROUPS", "detect_the_well", "open_the_well"]

#: The field groups, by tensor order.
FIELD_GROUPS = ("t0_fields", "t1_fields", "t2_fields")
SPLIT_FOLDERS = ("train", "valid", "test")


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _texts(value) -> list[str]:
    """An attribute holding a list of strings (or one string) as a list of ``str``."""
    if value is None:
        return []
    if isinstance(value, (str, bytes)):
        return [_text(value)]
    return [_text(v) for v in np.asarray(value).ravel()]


def _plain(value):
    """An attribute value as plain Python (for ``attrs`` and ``params``)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "OSU":
            return _texts(value)
        return value.item() if value.size == 1 else value
    if isinstance(value, np.generic):
        return value.item()
    return value


def _count(samples, n: int) -> int:
    if isinstance(samples, slice):
        return len(range(*samples.indices(n)))
    return len(np.asarray(samples))


@dataclasses.dataclass(eq=False)
class _SampleBroadcastSource(DatasetSource):
    """A field's dataset indexed as ``[samples, (times)]``; when the file stores the field
    once for all ``n_samples`` samples (not ``sample_varying``), that one value is read and
    broadcast to ``[k, ...]`` for the ``k`` samples asked for."""

    n_samples: int
    sample_varying: bool = True

    def read(self, index: tuple) -> np.ndarray:
        if self.sample_varying:
            return super().read(index)
        block = np.asarray(super().read(index[1:]))
        count = _count(index[0], self.n_samples)
        return np.broadcast_to(block[None], (count, *block.shape))


@dataclasses.dataclass(frozen=True)
class _ToChannelsLast:
    """``[k, (t,) *stored_space, *(D,)*order]`` -> ``[k, (t,) *space, D**order]``, with the
    spatial axes the field does not vary along broadcast to their full size."""

    space: tuple[int, ...]
    dim_varying: tuple[bool, ...]
    order: int
    time_dependent: bool

    def __call__(self, block: np.ndarray) -> np.ndarray:
        block = np.asarray(block)
        if self.order == 0:
            block = block[..., None]
        else:
            block = block.reshape(*block.shape[: block.ndim - self.order], -1)
        lead = 2 if self.time_dependent else 1
        for axis, varying in enumerate(self.dim_varying):
            if not varying:
                block = np.expand_dims(block, lead + axis)
        full = (*block.shape[:lead], *self.space, block.shape[-1])
        return np.ascontiguousarray(np.broadcast_to(block, full))


def _attr(node, name: str, path: str):
    if name not in node.attrs:
        raise DataFormatError(f"{path}: {node.name} has no attribute {name!r}")
    return node.attrs[name]


def _group(f: h5py.File, name: str, path: str) -> h5py.Group:
    if name not in f or not isinstance(f[name], h5py.Group):
        raise DataFormatError(f"{path}: missing group /{name} (not a file of the Well?)")
    return f[name]


def _member(group: h5py.Group, name: str, path: str) -> h5py.Dataset:
    if name not in group or not isinstance(group[name], h5py.Dataset):
        raise DataFormatError(
            f"{path}: {group.name} lists {name!r} but has no dataset {group.name}/{name}"
        )
    return group[name]


def _channel_names(name: str, order: int, spatial_dims: Sequence[str]) -> tuple[str, ...]:
    if order == 0:
        return (name,)
    return tuple(f"{name}_{''.join(ix)}" for ix in itertools.product(spatial_dims, repeat=order))


def _field(
    dataset: h5py.Dataset,
    name: str,
    order: int,
    *,
    path: str,
    n: int,
    n_times: int,
    spatial_dims: Sequence[str],
    space: tuple[int, ...],
) -> ArrayField:
    sample_varying = bool(_attr(dataset, "sample_varying", path))
    time_varying = bool(_attr(dataset, "time_varying", path))
    dim_varying = tuple(bool(v) for v in np.atleast_1d(_attr(dataset, "dim_varying", path)))
    if len(dim_varying) != len(space):
        raise DataFormatError(
            f"{path}: {dataset.name} has dim_varying {list(dim_varying)} for "
            f"{len(space)} spatial dimensions {list(spatial_dims)}"
        )
    expected = (
        *((n,) if sample_varying else ()),
        *((n_times,) if time_varying else ()),
        *(size for size, varying in zip(space, dim_varying) if varying),
        *((len(space),) * order),
    )
    if tuple(dataset.shape) != expected:
        raise DataFormatError(
            f"{path}: {dataset.name} has shape {tuple(dataset.shape)}, expected {expected} "
            f"(sample_varying={sample_varying}, time_varying={time_varying}, "
            f"dim_varying={list(dim_varying)}, tensor order {order})"
        )
    channels = _channel_names(name, order, spatial_dims)
    shape = (n, *((n_times,) if time_varying else ()), *space, len(channels))
    return ArrayField(
        name=name,
        source=_SampleBroadcastSource(dataset, path, n, sample_varying),
        shape=shape,
        time_dependent=time_varying,
        channel_names=channels,
        to_channels_last=_ToChannelsLast(space, dim_varying, order, time_varying),
    )


def _boundaries(f: h5py.File, spatial_dims: Sequence[str], path: str):
    """``({bc: metadata}, {axis: [low, high]})``: the boundary conditions and, per axis, the
    type on each end (as the Well's padding reads them: periodic or open if any of the end
    is, wall only if all of it is; open where nothing is said)."""
    described, ends = {}, {d: ["open", "open"] for d in spatial_dims}
    if "boundary_conditions" not in f:
        return described, ends
    for name, bc in f["boundary_conditions"].items():
        if not isinstance(bc, h5py.Group):
            continue
        bc_type = _text(bc.attrs.get("bc_type", "unknown")).lower()
        dims = _texts(bc.attrs.get("associated_dims"))
        described[name] = {
            "bc_type": bc_type,
            "associated_dims": dims,
            "associated_fields": _texts(bc.attrs.get("associated_fields")),
        }
        mask = bc.get("mask")
        varying = bool(bc.attrs.get("sample_varying", False)) or bool(
            bc.attrs.get("time_varying", False)
        )
        if not isinstance(mask, h5py.Dataset) or varying or mask.ndim != len(dims):
            continue
        try:
            mask = np.asarray(mask[()], bool)
        except OSError as err:
            raise DataFormatError(f"{path}: cannot read {bc.name}/mask: {err}") from None
        aggregate = np.all if bc_type == "wall" else np.any
        for axis, dim in enumerate(dims):
            if dim not in ends or mask.shape[axis] == 0:
                continue
            for end, position in ((0, 0), (1, -1)):
                if aggregate(np.take(mask, position, axis=axis)):
                    ends[dim][end] = bc_type
    return described, ends


def _scalars(f: h5py.File, path: str) -> dict:
    params = {}
    if "scalars" not in f:
        return params
    group = f["scalars"]
    for name in _texts(group.attrs.get("field_names", list(group.keys()))):
        dataset = _member(group, name, path)
        try:
            value = np.asarray(dataset[()])
        except OSError as err:
            raise DataFormatError(f"{path}: cannot read {dataset.name}: {err}") from None
        params[name] = value.item() if value.size == 1 else value
    return params


def _find_stats(path: str) -> str | None:
    """``<dataset>/stats.yaml`` for a file at ``<dataset>/data/<split>/<file>``, or a
    ``stats.yaml`` beside the file."""
    folder = os.path.dirname(os.path.abspath(path))
    for candidate in (
        os.path.join(folder, "..", "..", "stats.yaml"),
        os.path.join(folder, "stats.yaml"),
    ):
        if os.path.isfile(candidate):
            return os.path.normpath(candidate)
    return None


def _load_stats(stats_path: str, fields: dict) -> dict:
    try:
        import yaml
    except ImportError:  # PyYAML is optional: no constants then
        return {}
    try:
        with open(stats_path) as handle:
            stats = yaml.safe_load(handle) or {}
    except (OSError, yaml.YAMLError) as err:
        raise DataFormatError(f"{stats_path}: not a readable statistics file ({err})") from None
    constants = {}
    for kind, table in stats.items():
        if not isinstance(table, dict):
            continue
        per_field = {}
        for name, value in table.items():
            values = np.asarray(value, np.float64).ravel()
            if name in fields and values.size not in (1, fields[name].shape[-1]):
                raise DataFormatError(
                    f"{stats_path}: {kind}/{name} has {values.size} values for "
                    f"{fields[name].shape[-1]} channels"
                )
            if name in fields:
                values = np.broadcast_to(values, (fields[name].shape[-1],)).copy()
            per_field[name] = values
        constants[kind] = per_field
    return constants


def open_the_well(path: str | os.PathLike, *, stats: str | os.PathLike | None = None) -> FieldFile:
    """Open a file of the Well lazily (see the module docstring for the mapping).

    Args:
        path: one ``.hdf5`` file of a Well dataset.
        stats: the dataset's ``stats.yaml`` (default: looked for at
            ``<dataset>/stats.yaml`` and beside the file).

    Raises:
        FileNotFoundError: no such file.
        DataFormatError: not an HDF5 file of the Well's layout; names the missing or
            misshapen group, dataset or attribute.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    f = open_hdf5(path)
    with closed_on_failure(f):
        dimensions = _group(f, "dimensions", path)
        spatial_dims = _texts(_attr(dimensions, "spatial_dims", path))
        n_dims = int(f.attrs.get("n_spatial_dims", len(spatial_dims)))
        if n_dims != len(spatial_dims):
            raise DataFormatError(
                f"{path}: n_spatial_dims = {n_dims} but /dimensions lists spatial_dims "
                f"{spatial_dims}"
            )
        n = int(_attr(f, "n_trajectories", path))
        time = _member(dimensions, "time", path)
        n_times = int(time.shape[-1]) if time.ndim else 1
        coordinates, space = {}, []
        for dim in spatial_dims:
            grid = _member(dimensions, dim, path)
            if grid.ndim not in (1, 2):
                raise DataFormatError(
                    f"{path}: {grid.name} has shape {grid.shape}, expected [N] or [n, N]"
                )
            space.append(int(grid.shape[-1]))
            coordinates[dim] = grid[()]
        space = tuple(space)
        times = np.asarray(time[()])
        if times.ndim == 2:
            coordinates["time"], times = times, None

        fields = {}
        for order, group_name in enumerate(FIELD_GROUPS):
            if group_name not in f:
                continue
            group = f[group_name]
            for name in _texts(group.attrs.get("field_names", list(group.keys()))):
                if name in fields:
                    raise DataFormatError(f"{path}: field {name!r} appears in two field groups")
                fields[name] = _field(
                    _member(group, name, path),
                    name,
                    order,
                    path=path,
                    n=n,
                    n_times=n_times,
                    spatial_dims=spatial_dims,
                    space=space,
                )
        if not fields:
            raise DataFormatError(f"{path}: no fields in /t0_fields, /t1_fields or /t2_fields")

        params = _scalars(f, path)
        simulation_parameters = _texts(f.attrs.get("simulation_parameters"))
        for name in simulation_parameters:
            if name not in params and name in f.attrs:
                params[name] = _plain(f.attrs[name])
        described, ends = _boundaries(f, spatial_dims, path)

        attrs = {
            "dataset_name": _text(f.attrs.get("dataset_name", "")),
            "grid_type": _text(f.attrs.get("grid_type", "")),
            "spatial_dims": spatial_dims,
            "n_trajectories": n,
            "simulation_parameters": simulation_parameters,
            "boundary_conditions": described,
            "boundaries": ends,
        }
        splits = {}
        folder = os.path.basename(os.path.dirname(os.path.abspath(path)))
        if folder in SPLIT_FOLDERS:
            attrs["split"] = folder
            splits[folder] = np.arange(n)
        stats = os.fspath(stats) if stats is not None else _find_stats(path)
        constants = _load_stats(stats, fields) if stats is not None else {}
        if constants:
            attrs["stats"] = stats

        return FieldFile(
            path=path,
            format="the_well",
            fields=fields,
            times=times,
            coordinates=coordinates,
            params=params,
            splits=splits,
            constants=constants,
            attrs=attrs,
            close_handle=f.close,
        )


def detect_the_well(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an HDF5 file of the Well's layout (metadata only)."""
    path = os.fspath(path)
    if not is_hdf5_file(path):
        return False
    with h5py.File(path, "r") as f:
        return (
            isinstance(f.get("dimensions"), h5py.Group)
            and "spatial_dims" in f["dimensions"].attrs
            and "n_trajectories" in f.attrs
            and any(isinstance(f.get(g), h5py.Group) for g in FIELD_GROUPS)
        )
