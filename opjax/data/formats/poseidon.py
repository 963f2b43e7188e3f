"""Poseidon's dataset files (camlab-ethz, the scOT repository), read lazily as a
:class:`FieldFile`.

The files are NetCDF4 (HDF5 underneath), read with h5py; ``Helmholtz.h5`` is plain HDF5.
Every file is one dataset of ``N`` samples on a ``128 x 128`` grid of the unit square
(the reader takes any grid size), axes ``(sample, [time,] [channel,] x, y)``. What each
dataset's variables hold is in :mod:`~opjax.data.formats.poseidon_catalogue`. Fields come
out channels-last, spatial axes in the file's ``(x, y)`` order::

    NS-PwC NS-Gauss NS-SVS   velocity [N, 21, 2|3, X, Y] -> velocity [N, 21, X, Y, 2]
    NS-Sines NS-BB NS-SL       (channels u, v; a third channel, where present, is a passive
    NS-Tracer-PwC              tracer -> tracer [N, 21, X, Y, 1]); NS-SL is transposed
                               (x <-> y) as scOT does
    FNS-KF                   solution [N, 21, 2, X, Y] -> velocity [N, 21, X, Y, 2]
    CE-RP CE-CRP CE-KH       data [N, 21, 5, X, Y] -> density, velocity (2), pressure,
    CE-Gauss CE-RPUI           energy, each [N, 21, X, Y, c]
    CE-RM                    solution [N, 21, 5, X, Y] -> density, velocity, pressure, tracer
    GCE-RT                   solution [N, 11, 6, X, Y] -> density, velocity, pressure, tracer,
                               gravitational_potential
    Wave-Layer Wave-Gauss    solution [N, T, X, Y] -> solution [N, T, X, Y, 1];
                               c [N, X, Y] -> c [N, X, Y, 1] (wave speed, steady)
    ACE                      solution [N, 20, X, Y] -> solution [N, 20, X, Y, 1]
    Poisson-Gauss            source, solution [N, X, Y] -> source, solution [N, X, Y, 1]
    SE-AF                    solution [N, 2, X, Y] -> airfoil (channel 0, the shape mask:
                               1 on the airfoil), density (channel 1), each [N, X, Y, 1]
    Helmholtz (.h5)          /Sample_<i>/{a, u: [X, Y], bc: scalar} -> a, u [N, X, Y, 1] and
                               bc [N, X, Y, 1] (the sample's boundary value, as scOT feeds it)

scOT's models see more than the files hold; these fields are made up lazily, exactly as
scOT makes them, and listed in ``attrs["synthetic_fields"]``: ``density`` (ones) and
``pressure`` (zeros) for the incompressible sets (NS-*, FNS-KF), and ``forcing``
``0.1 sin(2 pi (x + y))`` on ``linspace(0, 1, X) x linspace(0, 1, Y)`` for FNS-KF (steady).
scOT's inputs are then, e.g., ``"density[i],velocity[i],pressure[i]"`` (its channel order
rho, u, v, p). Channel 4 of the CE ``data`` (energy) and the tracers are never used by scOT.

What the :class:`FieldFile` carries besides the fields:

* ``splits``: scOT's train/val/test split of ``N_max`` samples. A file with fewer than
  ``N_max`` samples (a chunk of a download, or a subset) gets no splits; ``attrs["splits"]``
  says why.
* ``constants``: ``{"mean": {field: [c]}, "std": {field: [c]}, "time": T_norm}``, per
  channel of each field, such that ``(u - mean) / std`` is exactly what scOT feeds its
  model (:func:`~opjax.data.formats.poseidon_normalization.scot_normalization` stacks them
  for a field key).
* ``times``: scOT's normalised time ``arange(T) / T_norm``: the lead time scOT gives its
  model for a pair of snapshots ``(i, j)`` is ``times[j] - times[i]``.
* ``attrs``: the dataset's names, ``split_sizes``, ``scot_steps`` (scOT's all2all defaults
  ``max_num_time_steps``, ``time_step_size``) and notes.

The dataset is recognised from the file name (``NS-PwC.nc``, ``NS-PwC_0.nc``, or a
download's chunk ``velocity_0.nc`` in a folder named ``NS-PwC``), or given as
``dataset=`` (the Hub name, e.g. ``"CE-RP"``, or scOT's, e.g.
``"fluids.compressible.Riemann"``). A file of none of these names is read generically:
each variable a field (axes named ``time``/``channel`` by its NetCDF dimensions, else
guessed: ``[N, X, Y]`` steady, ``[N, T, X, Y]``, ``[N, T, C, X, Y]``), no splits, no
constants, and ``attrs["dataset"] = "unknown"`` says so.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import h5py
import numpy as np

from opjax.data.errors import DataFormatError
from opjax.data.fields import ArrayField, FieldFile, LazyField
from opjax.data.formats.hdf5 import DatasetSource, closed_on_failure, is_hdf5_file, open_hdf5
from opjax.data.formats.poseidon_catalogue import (
    DATASETS,
    SYNTHETIC_FIELDS,
    DatasetPart,
    PoseidonDataset,
    chunk_variable,
    dataset_of_path,
    lookup_dataset,
)

__all__ = ["detect_poseidon", "open_poseidon"]


@dataclasses.dataclass(eq=False)
class _ChannelSource(DatasetSource):
    """A variable read as ``dataset[index + (channels,)]``: only the ``channels`` (a slice
    of its channel axis, the one after ``index``) that make one field."""

    channels: slice

    def read(self, index: tuple) -> np.ndarray:
        return super().read((*index, self.channels))


def _samples(samples, n: int) -> np.ndarray:
    return np.arange(n)[samples] if isinstance(samples, slice) else np.asarray(samples)


@dataclasses.dataclass(eq=False)
class _Constant:
    """A made-up field: ``value [*space]`` for every sample (and time)."""

    value: np.ndarray
    n_samples: int
    n_times: int | None

    def __getitem__(self, index):
        index = index if isinstance(index, tuple) else (index,)
        count = len(_samples(index[0], self.n_samples))
        lead = (count,)
        if self.n_times is not None and len(index) > 1:
            times = np.arange(self.n_times)[index[1]]
            lead = (count, *np.shape(times))
        return np.ascontiguousarray(np.broadcast_to(self.value, (*lead, *self.value.shape)))


@dataclasses.dataclass(eq=False)
class _HelmholtzSource:
    """``/Sample_<i>/<key>`` of Helmholtz.h5, stacked over the requested samples."""

    file: h5py.File
    path: str
    key: str
    n_samples: int
    space: tuple[int, ...]

    def __getitem__(self, samples):
        blocks = []
        for i in _samples(samples, self.n_samples):
            name = f"Sample_{i}/{self.key}"
            if name not in self.file:
                raise DataFormatError(f"{self.path}: missing dataset /{name}")
            try:
                value = np.asarray(self.file[name][()], np.float32)
            except OSError as err:
                raise DataFormatError(f"{self.path}: cannot read /{name}: {err}") from None
            if self.key == "bc":
                value = np.full(self.space, float(value.ravel()[0]), np.float32)
            if value.shape != self.space:
                raise DataFormatError(
                    f"{self.path}: /{name} has shape {value.shape}, expected {self.space}"
                )
            blocks.append(value)
        return np.stack(blocks) if blocks else np.zeros((0, *self.space), np.float32)


def _mapping(time_dependent: bool, has_channels: bool, transpose: bool) -> Callable:
    """File block ``[k, (t,) (c,) X, Y]`` -> ``[k, (t,) X, Y, c]`` (x, y swapped if asked)."""

    def to_channels_last(block):
        block = np.asarray(block)
        if has_channels:
            block = np.moveaxis(block, 2 if time_dependent else 1, -1)
        else:
            block = block[..., None]
        if transpose:
            block = np.swapaxes(block, -3, -2)
        return block

    return to_channels_last


def _check_variable(
    dataset: h5py.Dataset, name: str, path: str, spec: PoseidonDataset, part: DatasetPart
) -> bool:
    """Check the variable's rank; return whether it has a time axis."""
    time_dependent = spec.layout == "trajectory" and not part.steady
    ndim = 3 + time_dependent + (part.channels is not None)
    axes = (
        "[N, "
        + ("T, " if time_dependent else "")
        + ("C, " if part.channels is not None else "")
        + "X, Y]"
    )
    if dataset.ndim != ndim:
        raise DataFormatError(
            f"{path}: variable {name!r} has shape {tuple(dataset.shape)}, expected {axes} "
            f"for {spec.name}"
        )
    return time_dependent


def _open_known(f: h5py.File, path: str, spec: PoseidonDataset, chunk_variable: str | None):
    """The fields of a NetCDF file of ``spec``, its number of times and its grid ``(X, Y)``
    (as read, i.e. after the transpose); a download's chunk holds ``chunk_variable`` only."""
    fields: dict[str, LazyField] = {}
    n_times = None
    space = None
    present = [v for v in spec.variables if isinstance(f.get(v), h5py.Dataset)]
    if not present:
        expected = " and ".join(repr(v) for v in spec.variables)
        raise DataFormatError(f"{path}: no variable {expected} of a {spec.name} file")
    for part in spec.parts:
        dataset = f.get(part.variable)
        if not isinstance(dataset, h5py.Dataset):
            if chunk_variable is not None and part.variable != chunk_variable:
                continue  # a download's chunk holds one variable
            raise DataFormatError(f"{path}: missing variable {part.variable!r} of {spec.name}")
        time_dependent = _check_variable(dataset, part.variable, path, spec, part)
        if part.channels is not None:
            n_channels = dataset.shape[2 if time_dependent else 1]
            if max(part.channels) >= n_channels:
                if part.optional:
                    continue
                raise DataFormatError(
                    f"{path}: variable {part.variable!r} has shape {tuple(dataset.shape)}: "
                    f"{n_channels} channels, {spec.name} needs channel {max(part.channels)} "
                    f"({part.field})"
                )
            # ArrayField indexes [samples(, times)]; the channel slice follows.
            channels = slice(part.channels[0], part.channels[-1] + 1)
            source = _ChannelSource(dataset, path, channels)
        else:
            source = DatasetSource(dataset, path)
        if time_dependent:
            n_times = dataset.shape[1] if n_times is None else n_times
            if dataset.shape[1] != n_times:
                raise DataFormatError(
                    f"{path}: variable {part.variable!r} has {dataset.shape[1]} times, "
                    f"others {n_times}"
                )
        xy = tuple(dataset.shape[-2:])
        xy = xy[::-1] if spec.transpose else xy
        if space is not None and xy != space:
            raise DataFormatError(
                f"{path}: variable {part.variable!r} has shape {tuple(dataset.shape)}, "
                f"on a grid other than {space}"
            )
        space = xy
        width = len(part.names)
        shape = (dataset.shape[0], *((n_times,) if time_dependent else ()), *space, width)
        fields[part.field] = ArrayField(
            name=part.field,
            source=source,
            shape=shape,
            time_dependent=time_dependent,
            channel_names=part.names,
            to_channels_last=_mapping(time_dependent, part.channels is not None, spec.transpose),
        )
    return fields, n_times, space


def _open_helmholtz(f: h5py.File, path: str, spec: PoseidonDataset):
    """The fields of ``Helmholtz.h5`` (steady: no number of times) and its grid ``(X, Y)``."""
    n = sum(1 for name in f if name.startswith("Sample_"))
    for i in (0, n - 1):
        for key in ("a", "u", "bc"):
            if f"Sample_{max(i, 0)}/{key}" not in f:
                raise DataFormatError(
                    f"{path}: missing dataset /Sample_{max(i, 0)}/{key} of a Helmholtz file"
                )
    space = tuple(f["Sample_0/a"].shape)
    if len(space) != 2:
        raise DataFormatError(f"{path}: /Sample_0/a has shape {space}, expected [X, Y]")
    fields = {
        part.field: ArrayField(
            name=part.field,
            source=_HelmholtzSource(f, path, part.variable, n, space),
            shape=(n, *space, 1),
            time_dependent=False,
            channel_names=part.names,
        )
        for part in spec.parts
    }
    return fields, None, space


def _dimension_names(dataset: h5py.Dataset) -> list[str | None]:
    """The NetCDF dimension names of ``dataset``'s axes (None where unknown)."""
    names = []
    for axis in range(dataset.ndim):
        try:
            scales = dataset.dims[axis]
            names.append(scales[0].name.rsplit("/", 1)[-1] if len(scales) else None)
        except Exception:  # no dimension scales: a plain HDF5 dataset
            names.append(None)
    return names


def _open_generic(f: h5py.File, path: str):
    """Every variable a field, axes by NetCDF dimension names or by number; returns the
    fields and the variables whose axes were guessed."""
    fields: dict[str, LazyField] = {}
    guessed = []
    for name, dataset in f.items():
        if not isinstance(dataset, h5py.Dataset) or dataset.ndim < 2:
            continue
        if dataset.attrs.get("CLASS") == b"DIMENSION_SCALE":
            continue
        dims = _dimension_names(dataset)
        time_axis = dims.index("time") if "time" in dims else None
        channel_axis = dims.index("channel") if "channel" in dims else None
        if all(d is None for d in dims):
            guessed.append(name)
            time_axis = 1 if dataset.ndim >= 4 else None
            channel_axis = 2 if dataset.ndim >= 5 else None
        spatial = [a for a in range(1, dataset.ndim) if a not in (time_axis, channel_axis)]
        order = [0, *([time_axis] if time_axis is not None else []), *spatial]
        order += [channel_axis] if channel_axis is not None else []

        def to_channels_last(block, order=tuple(order), channels=channel_axis is not None):
            block = np.transpose(np.asarray(block), order)
            return block if channels else block[..., None]

        shape = tuple(dataset.shape[a] for a in order)
        shape = shape if channel_axis is not None else (*shape, 1)
        width = shape[-1]
        fields[name] = ArrayField(
            name=name,
            source=DatasetSource(dataset, path),
            shape=shape,
            time_dependent=time_axis is not None,
            channel_names=tuple(f"{name}_{c}" for c in range(width)) if width > 1 else (name,),
            to_channels_last=to_channels_last,
            time_axis=time_axis or 1,
        )
    if not fields:
        raise DataFormatError(f"{path}: no variables with a sample axis to read")
    return fields, guessed


def _synthetic_fields(spec, fields, n_times, space) -> dict[str, LazyField]:
    """The fields scOT makes up for ``spec`` (:data:`SYNTHETIC_FIELDS`), as many samples as
    the file's fields and time-dependent where the file is (but the steady forcing)."""
    made = {}
    if not fields or space is None:
        return made
    n = next(iter(fields.values())).n_samples
    for name in spec.synthetic:
        value = SYNTHETIC_FIELDS[name].value
        if value is None:  # FNS-KF's forcing
            x, y = (np.linspace(0.0, 1.0, s) for s in space)
            forcing = 0.1 * np.sin(2.0 * np.pi * (x[:, None] + y[None, :]))
            forcing = np.asarray(forcing, np.float32)[..., None]
            made[name] = ArrayField(
                name=name,
                source=_Constant(forcing, n, None),
                shape=(n, *space, 1),
                time_dependent=False,
                channel_names=(name,),
                to_channels_last=lambda a: a,
            )
        else:
            time_dependent = n_times is not None
            made[name] = ArrayField(
                name=name,
                source=_Constant(np.full((*space, 1), value, np.float32), n, n_times),
                shape=(n, *((n_times,) if time_dependent else ()), *space, 1),
                time_dependent=time_dependent,
                channel_names=(name,),
                to_channels_last=lambda a: a,
            )
    return made


def _read_catalogued(f: h5py.File, path: str, spec: PoseidonDataset, chunk: str | None):
    """``(fields, times, splits, constants, attrs)`` of a file of a catalogued dataset."""
    if spec.layout == "helmholtz":
        fields, n_times, space = _open_helmholtz(f, path, spec)
    else:
        fields, n_times, space = _open_known(f, path, spec, chunk)
    read = [part for part in spec.parts if part.field in fields]
    means = {part.field: np.asarray(part.mean) for part in read}
    stds = {part.field: np.asarray(part.std) for part in read}
    synthetic = _synthetic_fields(spec, fields, n_times, space)
    for name in synthetic:
        means[name] = np.asarray([SYNTHETIC_FIELDS[name].mean])
        stds[name] = np.asarray([SYNTHETIC_FIELDS[name].std])
    fields.update(synthetic)
    constants = {"mean": means, "std": stds}
    times = None
    if spec.time_norm is not None:
        constants["time"] = spec.time_norm
        if n_times is not None:
            times = np.arange(n_times, dtype=np.float64) / spec.time_norm
    attrs = {
        "dataset": spec.name,
        "scot_dataset": spec.scot,
        "split_sizes": {"N_max": spec.n_max, "N_val": spec.n_val, "N_test": spec.n_test},
    }
    if spec.steps is not None:
        attrs["scot_steps"] = {
            "max_num_time_steps": spec.steps[0],
            "time_step_size": spec.steps[1],
        }
    if synthetic:
        attrs["synthetic_fields"] = {k: SYNTHETIC_FIELDS[k].description for k in synthetic}
    if spec.transpose:
        attrs["transposed"] = "x and y swapped, as scOT reads this dataset"
    if spec.note:
        attrs["note"] = spec.note
    splits = {}
    n = next(iter(fields.values())).n_samples
    if n >= spec.n_max:
        splits = spec.splits()
    else:
        attrs["splits"] = (
            f"none: the file holds {n} samples, scOT's splits need N_max = "
            f"{spec.n_max} (a download's chunk? assemble it first)"
        )
    return fields, times, splits, constants, attrs


def open_poseidon(path: str | os.PathLike, dataset: str | None = None) -> FieldFile:
    """Open one of Poseidon's dataset files lazily (see the module docstring).

    Args:
        path: a ``.nc`` file (or ``Helmholtz.h5``).
        dataset: which dataset it is (Hub name such as ``"NS-PwC"``, or scOT's identifier);
            by default recognised from the file name, else read generically.

    Raises:
        FileNotFoundError: no such file.
        DataFormatError: unreadable file, unknown ``dataset``, or a variable missing or of
            the wrong shape (the message names the file and the variable).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    if dataset is not None:
        spec = lookup_dataset(dataset)
        if spec is None:
            raise DataFormatError(
                f"{path}: unknown Poseidon dataset {dataset!r}; known: {sorted(DATASETS)} "
                "(or scOT's identifiers)"
            )
        chunk = chunk_variable(path)
    else:
        spec, chunk = dataset_of_path(path)
    f = open_hdf5(path, "HDF5/NetCDF4 file")
    with closed_on_failure(f):
        if spec is None:
            fields, guessed = _open_generic(f, path)
            times, splits, constants = None, {}, {}
            attrs = {
                "dataset": "unknown",
                "note": (
                    "file name names no known Poseidon dataset (pass dataset=): every "
                    "variable read as a field; no splits, no constants"
                ),
            }
            if guessed:
                attrs["layout_guessed"] = guessed
        else:
            fields, times, splits, constants, attrs = _read_catalogued(f, path, spec, chunk)
        if "_NCProperties" in f.attrs:
            netcdf = f.attrs["_NCProperties"]
            attrs["netcdf"] = netcdf.decode() if isinstance(netcdf, bytes) else netcdf
        return FieldFile(
            path=path,
            format="poseidon",
            fields=fields,
            times=times,
            splits=splits,
            constants=constants,
            attrs=attrs,
            close_handle=f.close,
        )


def detect_poseidon(path: str | os.PathLike) -> bool:
    """Whether ``path`` is one of Poseidon's dataset files: an HDF5/NetCDF4 file whose name
    names a known dataset and that holds its variables (metadata only)."""
    path = os.fspath(path)
    if not is_hdf5_file(path):
        return False
    spec, _ = dataset_of_path(path)
    if spec is None:
        return False
    with h5py.File(path, "r") as f:
        if spec.layout == "helmholtz":
            return "Sample_0" in f
        return any(isinstance(f.get(v), h5py.Dataset) for v in spec.variables)
