"""Lazily read fields of a dataset file: what every reader returns.

A reader opens a file as a :class:`FieldFile`: a dict of :class:`LazyField`, each the
whole stack of one physical quantity over the file's samples, channels-last,

    steady field:         [n_samples, *space, channels]
    time-dependent field: [n_samples, n_times, *space, channels],

plus what the file says about them (times, coordinates, per-sample parameters, splits,
normalisation constants, and for finite-element fields ``[n_samples, n_dofs, channels]``
the mesh). Opening reads only metadata; indexing a field reads only the
requested samples and times, so a 100 GB file costs nothing until a sample is asked for.
:func:`read_sample` then builds the Sample schema from field keys such as ``"u[0]"``.
"""

from __future__ import annotations

import abc
import dataclasses
import os
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from opjax.data.errors import DataFormatError
from opjax.data.mesh_data import DatasetMesh
from opjax.data.sample import Sample, validate_sample


class LazyField(abc.ABC):
    """One field, ``[n_samples, (n_times,) *space, channels]``, read on indexing.

    Attributes:
        name: the field's name in the :class:`FieldFile`.
        shape: the channels-last shape of the whole field.
        time_dependent: whether axis 1 is time.
        channel_names: one name per channel.
    """

    name: str
    shape: tuple[int, ...]
    time_dependent: bool
    channel_names: tuple[str, ...]

    @abc.abstractmethod
    def read(self, samples: slice | np.ndarray, times: slice | int | None = None) -> np.ndarray:
        """The values ``[k, (t,) *space, channels]`` (float32) of the given samples
        (a slice or an increasing index array) and, for a time-dependent field, times
        (a slice keeps the time axis, an int drops it; None: all times)."""

    @property
    def n_samples(self) -> int:
        return self.shape[0]

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        return self.shape[2 if self.time_dependent else 1 : -1]


def time_index(field: LazyField, times):
    """Validate a time index for ``field`` (for :meth:`LazyField.read` implementations);
    return it with a negative int made positive, None made ``slice(None)``."""
    if times is None:
        return slice(None)
    if not field.time_dependent:
        raise DataFormatError(f"field {field.name!r} has no time axis to index")
    if isinstance(times, (int, np.integer)):
        n_times = field.shape[1]
        if not -n_times <= times < n_times:
            raise DataFormatError(
                f"time index {times} of field {field.name!r} is out of range ({n_times} times)"
            )
        return int(times) % n_times
    return times


@dataclasses.dataclass(eq=False)
class ArrayField(LazyField):
    """A field held by an array-like (an ``h5py.Dataset`` or a NumPy array) in its file's
    own axis order; ``to_channels_last`` maps what was read to the channels-last layout.

    Attributes:
        source: indexable on its first two axes (samples, then time if time-dependent)
            in the file's order, e.g. an ``h5py.Dataset``.
        shape: the channels-last shape after ``to_channels_last``.
        to_channels_last: applied to each block read, ``source[samples, times]``.
        time_axis: which axis of ``source`` is time (when time-dependent), default 1.
    """

    name: str
    source: Any
    shape: tuple[int, ...]
    time_dependent: bool
    channel_names: tuple[str, ...] = ("",)
    to_channels_last: Callable[[np.ndarray], np.ndarray] = lambda a: a[..., None]
    time_axis: int = 1

    def read(self, samples, times=None):
        times = time_index(self, times)
        if not self.time_dependent:
            block = self.source[samples]
            return np.asarray(self.to_channels_last(np.asarray(block)), np.float32)
        index = [slice(None)] * (self.time_axis + 1)
        index[0], index[self.time_axis] = samples, times
        block = np.asarray(self.source[tuple(index)])
        if isinstance(times, int):  # put a length-1 time axis back for the mapping
            block = np.expand_dims(block, self.time_axis)
            return np.asarray(self.to_channels_last(block), np.float32)[:, 0]
        return np.asarray(self.to_channels_last(block), np.float32)


@dataclasses.dataclass(eq=False)
class StackedField(LazyField):
    """Several fields of equal shape stacked as channels (e.g. PDEBench's ``Vx``, ``Vy``)."""

    name: str
    parts: Sequence[LazyField]

    def __post_init__(self):
        shapes = {(p.shape[:-1], p.time_dependent) for p in self.parts}
        if len(shapes) != 1:
            raise DataFormatError(
                f"cannot stack fields {[p.name for p in self.parts]} as {self.name!r}: "
                f"shapes {[p.shape for p in self.parts]}"
            )
        first = self.parts[0]
        self.time_dependent = first.time_dependent
        self.shape = (*first.shape[:-1], sum(p.shape[-1] for p in self.parts))
        self.channel_names = tuple(c for p in self.parts for c in p.channel_names)

    def read(self, samples, times=None):
        return np.concatenate([p.read(samples, times) for p in self.parts], axis=-1)


@dataclasses.dataclass(eq=False)
class FieldFile:
    """An opened dataset file: its fields and what it says about them.

    Attributes:
        path: the file.
        format: the reader's name (a key of :data:`opjax.data.formats.FORMATS`).
        fields: name -> :class:`LazyField`, all with the same number of samples.
        times: ``[n_times]`` of the time-dependent fields, if known.
        coordinates: axis name -> grid points ``[n_points]``.
        params: name -> per-sample values ``[n_samples]`` or a file-wide scalar.
        splits: split name -> sample indices (for files that define their splits).
        constants: file-defined constants, e.g. normalisation means and stds.
        attrs: other metadata worth showing (``opjax data info``).
        mesh: for fields that are finite-element functions, the space their DOFs belong to
            (every field's spatial shape is then ``[n_dofs]``); None for grid data.
        close_handle: closes the underlying file.
    """

    path: str
    format: str
    fields: dict[str, LazyField]
    times: np.ndarray | None = None
    coordinates: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    splits: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    constants: dict[str, Any] = dataclasses.field(default_factory=dict)
    attrs: dict[str, Any] = dataclasses.field(default_factory=dict)
    mesh: DatasetMesh | None = None
    close_handle: Callable[[], None] = lambda: None

    def __post_init__(self):
        counts = {name: f.n_samples for name, f in self.fields.items()}
        if len(set(counts.values())) > 1:
            raise DataFormatError(f"{self.path}: fields have different sample counts {counts}")
        if self.times is not None:
            times = np.asarray(self.times)
            for name, f in self.fields.items():
                if f.time_dependent and times.shape != (f.shape[1],):
                    raise DataFormatError(
                        f"{self.path}: times has shape {times.shape}, but field {name!r} "
                        f"holds {f.shape[1]} saved times"
                    )
        if self.mesh is not None:
            n_dofs, element = self.mesh.space.n_dofs, self.mesh.element
            for name, f in self.fields.items():
                if f.spatial_shape != (n_dofs,):
                    raise DataFormatError(
                        f"{self.path}: field {name!r} has spatial shape {list(f.spatial_shape)}, "
                        f"but the file's {element} mesh has {n_dofs} DOFs"
                    )

    @property
    def n_samples(self) -> int:
        return next(iter(self.fields.values())).n_samples if self.fields else 0

    def field(self, name: str) -> LazyField:
        if name not in self.fields:
            raise DataFormatError(f"{self.path}: no field {name!r} (fields: {sorted(self.fields)})")
        return self.fields[name]

    def close(self) -> None:
        self.close_handle()

    def __enter__(self) -> FieldFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# "u", "u[0]", "u[-1]", "u[3:7]": a field, optionally indexed along its time axis.
_KEY = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*(?:\[\s*(-?\d*)\s*(?::\s*(-?\d*)\s*)?\])?\s*$")


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


def read_fields(file: FieldFile, key: str, samples: slice | np.ndarray) -> np.ndarray:
    """The fields ``key`` names (comma-separated, stacked as channels) for ``samples``."""
    blocks = []
    for part in key.split(","):
        name, times = parse_field_key(part)
        try:
            blocks.append(file.field(name).read(samples, times))
        except DataFormatError as err:
            message = str(err)
            raise DataFormatError(
                message if message.startswith(file.path) else f"{file.path}: {message}"
            ) from None
    shapes = {b.shape[:-1] for b in blocks}
    if len(shapes) != 1:
        raise DataFormatError(f"{file.path}: fields {key!r} have different shapes {sorted(shapes)}")
    return np.concatenate(blocks, axis=-1)


def read_sample(
    file: FieldFile,
    x_key: str,
    y_key: str,
    n_samples: int | None = None,
    split: str | None = None,
) -> Sample:
    """A Sample ``{"x", "y"}`` from field keys: the first ``n_samples`` samples of the file,
    or of its ``split`` when the file defines splits."""
    if split is not None:
        if split not in file.splits:
            raise DataFormatError(
                f"{file.path}: no split {split!r} (splits: {sorted(file.splits) or 'none'})"
            )
        indices = np.asarray(file.splits[split])
    else:
        indices = np.arange(file.n_samples)
    if n_samples is not None:
        if n_samples > len(indices):
            raise DataFormatError(
                f"{file.path}: asked for {n_samples} samples, "
                f"{'split ' + repr(split) if split else 'the file'} has {len(indices)}"
            )
        indices = indices[:n_samples]
    contiguous = len(indices) > 0 and np.all(np.diff(indices) == 1)
    samples = slice(int(indices[0]), int(indices[-1]) + 1) if contiguous else indices
    sample = {"x": read_fields(file, x_key, samples), "y": read_fields(file, y_key, samples)}
    return validate_sample(sample, source=os.fspath(file.path))
