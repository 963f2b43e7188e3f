"""Poseidon's datasets (camlab-ethz, the scOT repository), read lazily as a :class:`FieldFile`.

The files are NetCDF4 (HDF5 underneath), read with h5py; ``Helmholtz.h5`` is plain HDF5.
Every file is one dataset of ``N`` samples on a ``128 x 128`` grid of the unit square
(the reader takes any grid size), axes ``(sample, [time,] [channel,] x, y)``. Fields come
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

Splits (``FieldFile.splits``, scOT's ``BaseDataset.post_init``): of ``N_max`` samples,
``train = [0, N_max - N_val - N_test)``, ``val = [N_max - N_val - N_test, N_max - N_test)``,
``test = [N_max - N_test, N_max)``; samples past ``N_max`` are in no split. The numbers are
scOT's, from ``scOT/problems/**``, and agree with the dataset cards on the Hugging Face Hub:

    | dataset                    | N_max | N_val | N_test | train | time norm | steps (x, dt) |
    | -------------------------- | ----- | ----- | ------ | ----- | --------- | ------------- |
    | NS-PwC Gauss SVS Sines BB  | 20000 |   120 |    240 | 19640 |    20     | 7 x 2         |
    | NS-SL                      | 40000 |   120 |    240 | 39640 |    20     | 7 x 2         |
    | FNS-KF                     | 20000 |   120 |    240 | 19640 |    20     | 7 x 2         |
    | CE-RP CRP KH Gauss RPUI    | 10000 |   120 |    240 |  9640 |    20     | 7 x 2         |
    | CE-RM                      |  1260 |   100 |    130 |  1030 |    20     | 7 x 2         |
    | GCE-RT                     |  1260 |   100 |    130 |  1030 |    10     | 7 x 1         |
    | Wave-Layer                 | 10512 |    60 |    240 | 10212 |    20     | 7 x 2         |
    | Wave-Gauss                 | 10512 |    60 |    240 | 10212 |    15     | 7 x 2         |
    | ACE                        | 15000 |    60 |    240 | 14700 |    19     | 7 x 2         |
    | Poisson-Gauss              | 20000 |   120 |    240 | 19640 |     -     | steady        |
    | SE-AF                      | 10869 |   120 |    240 | 10509 |     -     | steady        |
    | Helmholtz                  | 19675 |   128 |    512 | 19035 |     -     | steady        |

A file with fewer than ``N_max`` samples (a chunk of a download, or a subset) gets no
splits; ``attrs["splits"]`` says why.

Normalisation (``FieldFile.constants``): ``{"mean": {field: [c]}, "std": {field: [c]},
"time": T_norm}``, per channel of each field, such that ``(u - mean) / std`` is exactly
what scOT feeds its model; :func:`scot_normalization` stacks them for a field key.
Where they come from (all ``scOT/problems/**``):

* incompressible fluids (``fluids/normalization_constants.py``): density 0.80 / 0.31,
  velocity (0, 0) / (0.391, 0.356), pressure 0 / 0.185, tracer 0.19586183 / 0.37; FNS-KF
  overrides velocity to (-2.2424793e-13, 4.1510376e-12) / (0.22017328, 0.22078253), forcing
  -1.2996679288335145e-09 / 0.0707106739282608;
* CE-RP, CE-CRP, CE-KH, CE-Gauss, CE-RPUI: the same fluid constants, but scOT first
  subtracts a per-dataset mean pressure (0.215, 0.553, 1.0, 2.513, 1.33), so the pressure
  mean here is that value (std 0.185); energy is not normalised by scOT (0 / 1);
* CE-RM: (1.1964245, -7.164812e-06, 2.8968952e-06, 1.5648036) /
  (0.5543239, 0.24304213, 0.2430597, 0.89639103) for rho, u, v, p;
* GCE-RT: (0.8970493, 4.0316996e-13, -1.3858967e-13, 0.7133829) /
  (0.12857835, 0.014896976, 0.014896975, 0.21293919), potential -1.7055787 / 0.40131348;
* Wave-Layer: solution 0.03467443221585092 / 0.10442421752963911, c 3498.5644380917424 /
  647.843958567462; Wave-Gauss: 0.0334376316 / 0.1171879068, c 2618.4593933 / 601.51658913;
* ACE: 0.002484262 / 0.65351176;
* Poisson-Gauss: source 0.014822142414492256 / 4.755138816607612, solution
  0.0005603458434937093 / 0.02401226126952699;
* SE-AF: density 0.92984116 / 0.10864315 (the airfoil mask is fed raw: 0 / 1; scOT also
  sets the normalised target to 1 on the airfoil, ``attrs["note"]``);
* Helmholtz: u 0.11523915668552 / 0.8279975746000605; a enters as ``a - 1`` (1 / 1), bc
  raw (0 / 1).

Fields scOT never normalises (the CE-RM and GCE-RT tracers) get 0 / 1.
``times`` is scOT's normalised time ``arange(T) / T_norm``: the lead time scOT gives its
model for a pair of snapshots ``(i, j)`` is ``times[j] - times[i]``. ``attrs["scot_steps"]``
holds its all2all defaults (``max_num_time_steps``, ``time_step_size``).

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
import re
from collections.abc import Callable

import h5py
import numpy as np

from opjax.data.errors import DataFormatError
from opjax.data.fields import ArrayField, FieldFile, LazyField, parse_field_key
from opjax.data.formats.hdf5 import open_hdf5

__all__ = ["DATASETS", "PoseidonDataset", "detect_poseidon", "open_poseidon", "scot_normalization"]

# Incompressible-flow constants of scOT (fluids/normalization_constants.py).
_RHO, _P = (0.80, 0.31), (0.0, 0.185)
_UV = ((0.0, 0.0), (0.391, 0.356))
_TRACER = (0.19586183, 0.37)


@dataclasses.dataclass(frozen=True)
class _Part:
    """One field cut out of a variable: ``channels`` of its channel axis (None: the variable
    has no channel axis), with scOT's per-channel ``mean``/``std``."""

    field: str
    variable: str
    channels: tuple[int, ...] | None
    names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    optional: bool = False  # a channel that only some files have (the NS tracer)
    steady: bool = False  # no time axis in a trajectory dataset (the wave speed c)


@dataclasses.dataclass(frozen=True)
class PoseidonDataset:
    """What scOT knows about one dataset: its layout, splits and constants."""

    name: str
    scot: str
    layout: str  # "trajectory" ([N, T, (C,) X, Y]), "steady" ([N, (C,) X, Y]), "helmholtz"
    parts: tuple[_Part, ...]
    n_max: int
    n_val: int
    n_test: int
    time_norm: float | None = None
    steps: tuple[int, int] | None = (7, 2)  # scOT's max_num_time_steps, time_step_size
    transpose: bool = False
    synthetic: tuple[str, ...] = ()
    note: str = ""

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.variable for p in self.parts))

    def splits(self) -> dict[str, np.ndarray]:
        n_train = self.n_max - self.n_val - self.n_test
        return {
            "train": np.arange(0, n_train),
            "val": np.arange(n_train, self.n_max - self.n_test),
            "test": np.arange(self.n_max - self.n_test, self.n_max),
        }


def _part(field, variable, channels, names, mean, std, optional=False, steady=False):
    return _Part(
        field,
        variable,
        None if channels is None else tuple(channels),
        tuple(names),
        tuple(float(m) for m in np.atleast_1d(mean)),
        tuple(float(s) for s in np.atleast_1d(std)),
        optional,
        steady,
    )


_VELOCITY_NAMES = ("velocity_x", "velocity_y")


def _ns(name, scot, n_max=20000, transpose=False):
    return PoseidonDataset(
        name,
        scot,
        "trajectory",
        (
            _part("velocity", "velocity", (0, 1), _VELOCITY_NAMES, *_UV),
            _part("tracer", "velocity", (2,), ("tracer",), *_TRACER, optional=True),
        ),
        n_max,
        120,
        240,
        time_norm=20.0,
        transpose=transpose,
        synthetic=("density", "pressure"),
    )


def _ce(name, scot, mean_pressure):
    return PoseidonDataset(
        name,
        scot,
        "trajectory",
        (
            _part("density", "data", (0,), ("density",), *_RHO),
            _part("velocity", "data", (1, 2), _VELOCITY_NAMES, *_UV),
            _part("pressure", "data", (3,), ("pressure",), mean_pressure, _P[1]),
            _part("energy", "data", (4,), ("energy",), 0.0, 1.0),
        ),
        10000,
        120,
        240,
        time_norm=20.0,
        note=f"scOT subtracts the mean pressure {mean_pressure} before normalising",
    )


def _euler(variable, mean, std, extra):
    return (
        _part("density", variable, (0,), ("density",), mean[0], std[0]),
        _part("velocity", variable, (1, 2), _VELOCITY_NAMES, mean[1:3], std[1:3]),
        _part("pressure", variable, (3,), ("pressure",), mean[3], std[3]),
        *extra,
    )


_DATASET_LIST = (
    _ns("NS-PwC", "fluids.incompressible.PiecewiseConstants"),
    _ns("NS-Tracer-PwC", "fluids.incompressible.PiecewiseConstants.tracer"),
    _ns("NS-Gauss", "fluids.incompressible.Gaussians"),
    _ns("NS-SVS", "fluids.incompressible.VortexSheet"),
    _ns("NS-Sines", "fluids.incompressible.Sines"),
    _ns("NS-BB", "fluids.incompressible.BrownianBridge"),
    _ns("NS-SL", "fluids.incompressible.ShearLayer", n_max=40000, transpose=True),
    PoseidonDataset(
        "FNS-KF",
        "fluids.incompressible.forcing.KolmogorovFlow",
        "trajectory",
        (
            _part(
                "velocity",
                "solution",
                (0, 1),
                _VELOCITY_NAMES,
                (-2.2424793e-13, 4.1510376e-12),
                (0.22017328, 0.22078253),
            ),
        ),
        20000,
        120,
        240,
        time_norm=20.0,
        synthetic=("density", "pressure", "forcing"),
    ),
    _ce("CE-RP", "fluids.compressible.Riemann", 0.215),
    _ce("CE-CRP", "fluids.compressible.RiemannCurved", 0.553),
    _ce("CE-KH", "fluids.compressible.KelvinHelmholtz", 1.0),
    _ce("CE-Gauss", "fluids.compressible.Gaussians", 2.513),
    _ce("CE-RPUI", "fluids.compressible.RiemannKelvinHelmholtz", 1.33),
    PoseidonDataset(
        "CE-RM",
        "fluids.compressible.RichtmyerMeshkov",
        "trajectory",
        _euler(
            "solution",
            (1.1964245, -7.164812e-06, 2.8968952e-06, 1.5648036),
            (0.5543239, 0.24304213, 0.2430597, 0.89639103),
            (_part("tracer", "solution", (4,), ("tracer",), 0.0, 1.0),),
        ),
        1260,
        100,
        130,
        time_norm=20.0,
    ),
    PoseidonDataset(
        "GCE-RT",
        "fluids.compressible.gravity.RayleighTaylor",
        "trajectory",
        _euler(
            "solution",
            (0.8970493, 4.0316996e-13, -1.3858967e-13, 0.7133829),
            (0.12857835, 0.014896976, 0.014896975, 0.21293919),
            (
                _part("tracer", "solution", (4,), ("tracer",), 0.0, 1.0),
                _part(
                    "gravitational_potential",
                    "solution",
                    (5,),
                    ("gravitational_potential",),
                    -1.7055787,
                    0.40131348,
                ),
            ),
        ),
        1260,
        100,
        130,
        time_norm=10.0,
        steps=(7, 1),
    ),
    PoseidonDataset(
        "Wave-Layer",
        "wave.Layer",
        "trajectory",
        (
            _part("solution", "solution", None, ("u",), 0.03467443221585092, 0.10442421752963911),
            _part("c", "c", None, ("c",), 3498.5644380917424, 647.843958567462, steady=True),
        ),
        10512,
        60,
        240,
        time_norm=20.0,
    ),
    PoseidonDataset(
        "Wave-Gauss",
        "wave.Gaussians",
        "trajectory",
        (
            _part("solution", "solution", None, ("u",), 0.0334376316, 0.1171879068),
            _part("c", "c", None, ("c",), 2618.4593933, 601.51658913, steady=True),
        ),
        10512,
        60,
        240,
        time_norm=15.0,
    ),
    PoseidonDataset(
        "ACE",
        "reaction_diffusion.AllenCahn",
        "trajectory",
        (_part("solution", "solution", None, ("u",), 0.002484262, 0.65351176),),
        15000,
        60,
        240,
        time_norm=19.0,
    ),
    PoseidonDataset(
        "Poisson-Gauss",
        "elliptic.poisson.Gaussians",
        "steady",
        (
            _part("source", "source", None, ("f",), 0.014822142414492256, 4.755138816607612),
            _part("solution", "solution", None, ("u",), 0.0005603458434937093, 0.02401226126952699),
        ),
        20000,
        120,
        240,
        steps=None,
    ),
    PoseidonDataset(
        "SE-AF",
        "fluids.compressible.steady.Airfoil",
        "steady",
        (
            _part("airfoil", "solution", (0,), ("airfoil",), 0.0, 1.0),
            _part("density", "solution", (1,), ("density",), 0.92984116, 0.10864315),
        ),
        10869,
        120,
        240,
        steps=None,
        note="scOT sets the normalised target density to 1 where airfoil == 1",
    ),
    PoseidonDataset(
        "Helmholtz",
        "elliptic.Helmholtz",
        "helmholtz",
        (
            _part("a", "a", None, ("a",), 1.0, 1.0),
            _part("bc", "bc", None, ("bc",), 0.0, 1.0),
            _part("u", "u", None, ("u",), 0.11523915668552, 0.8279975746000605),
        ),
        19675,
        128,
        512,
        steps=None,
    ),
)

#: The datasets scOT defines, by their Hub name.
DATASETS: dict[str, PoseidonDataset] = {d.name: d for d in _DATASET_LIST}

_SYNTHETIC_CONSTANTS = {
    "density": ((1.0,), ("density",), _RHO),
    "pressure": ((0.0,), ("pressure",), _P),
}
_SYNTHETIC_TEXT = {
    "density": "1 everywhere (scOT's input for incompressible flow)",
    "pressure": "0 everywhere (scOT's input for incompressible flow)",
    "forcing": "0.1 sin(2 pi (x + y)) on linspace(0, 1) grids",
}
_FORCING_CONSTANTS = (-1.2996679288335145e-09, 0.0707106739282608)
_VARIABLE_CHUNK = re.compile(r"^([A-Za-z]+)_\d+$")  # a download's chunk: velocity_3.nc


def _lookup(name: str) -> PoseidonDataset | None:
    key = name.strip().lower()
    for spec in _DATASET_LIST:
        if key in (spec.name.lower(), spec.scot.lower(), spec.scot.lower() + ".time"):
            return spec
    return None


def _from_name(path: str) -> tuple[PoseidonDataset | None, str | None]:
    """The dataset a file's name (or its folder's, for a download's chunk) names, and the
    variable a chunk ``<variable>_<k>.nc`` holds."""
    stem = os.path.splitext(os.path.basename(path))[0]
    spec = _lookup(stem) or _lookup(re.sub(r"_\d+$", "", stem))
    chunk = _VARIABLE_CHUNK.match(stem)
    variable = chunk.group(1) if chunk and spec is None else None
    if spec is None and variable is not None:
        spec = _lookup(os.path.basename(os.path.dirname(os.path.abspath(path))))
    return spec, variable


@dataclasses.dataclass(eq=False)
class _Source:
    """An ``h5py.Dataset`` read as ``dataset[index + tail]`` (``tail`` picks channels);
    read errors name the file and key."""

    dataset: h5py.Dataset
    path: str
    tail: tuple = ()

    def __getitem__(self, index):
        index = index if isinstance(index, tuple) else (index,)
        try:
            return self.dataset[(*index, *self.tail)]
        except OSError as err:
            raise DataFormatError(
                f"{self.path}: cannot read {self.dataset.name} {self.dataset.shape} "
                f"(corrupt or truncated file?): {err}"
            ) from None


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


def _check_variable(dataset, name: str, path: str, spec: PoseidonDataset, part: _Part):
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
    fields: dict[str, LazyField] = {}
    means, stds = {}, {}
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
            tail = (slice(part.channels[0], part.channels[-1] + 1),)
        else:
            tail = ()
        source = _Source(dataset, path, tail)
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
        means[part.field] = np.asarray(part.mean)
        stds[part.field] = np.asarray(part.std)
    return fields, means, stds, n_times, space


def _open_helmholtz(f: h5py.File, path: str, spec: PoseidonDataset):
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
    fields, means, stds = {}, {}, {}
    for part in spec.parts:
        fields[part.field] = ArrayField(
            name=part.field,
            source=_HelmholtzSource(f, path, part.variable, n, space),
            shape=(n, *space, 1),
            time_dependent=False,
            channel_names=part.names,
        )
        means[part.field] = np.asarray(part.mean)
        stds[part.field] = np.asarray(part.std)
    return fields, means, stds, None, space


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
    """Every variable a field, axes by NetCDF dimension names or by number."""
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
            source=_Source(dataset, path),
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
    made = {}
    if not fields or space is None:
        return made
    n = next(iter(fields.values())).n_samples
    for name in spec.synthetic:
        if name == "forcing":
            x, y = (np.linspace(0.0, 1.0, s) for s in space)
            value = 0.1 * np.sin(2.0 * np.pi * (x[:, None] + y[None, :]))
            value = np.asarray(value, np.float32)[..., None]
            made[name] = ArrayField(
                name=name,
                source=_Constant(value, n, None),
                shape=(n, *space, 1),
                time_dependent=False,
                channel_names=("forcing",),
                to_channels_last=lambda a: a,
            )
        else:
            (value,), names, _ = _SYNTHETIC_CONSTANTS[name]
            time_dependent = n_times is not None
            made[name] = ArrayField(
                name=name,
                source=_Constant(np.full((*space, 1), value, np.float32), n, n_times),
                shape=(n, *((n_times,) if time_dependent else ()), *space, 1),
                time_dependent=time_dependent,
                channel_names=names,
                to_channels_last=lambda a: a,
            )
    return made


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
    chunk_variable = None
    if dataset is not None:
        spec = _lookup(dataset)
        if spec is None:
            raise DataFormatError(
                f"{path}: unknown Poseidon dataset {dataset!r}; known: {sorted(DATASETS)} "
                "(or scOT's identifiers)"
            )
        stem = os.path.splitext(os.path.basename(path))[0]
        match = _VARIABLE_CHUNK.match(stem)
        chunk_variable = match.group(1) if match else None
    else:
        spec, chunk_variable = _from_name(path)
    f = open_hdf5(path, "HDF5/NetCDF4 file")
    try:
        attrs: dict = {}
        splits: dict = {}
        constants: dict = {}
        times = None
        if spec is None:
            fields, guessed = _open_generic(f, path)
            attrs["dataset"] = "unknown"
            attrs["note"] = (
                "file name names no known Poseidon dataset (pass dataset=): every variable "
                "read as a field; no splits, no constants"
            )
            if guessed:
                attrs["layout_guessed"] = guessed
        else:
            if spec.layout == "helmholtz":
                fields, means, stds, n_times, space = _open_helmholtz(f, path, spec)
            else:
                fields, means, stds, n_times, space = _open_known(f, path, spec, chunk_variable)
            synthetic = _synthetic_fields(spec, fields, n_times, space)
            for name in synthetic:
                if name == "forcing":
                    means[name], stds[name] = (np.asarray([v]) for v in _FORCING_CONSTANTS)
                else:
                    _, _, (mean, std) = _SYNTHETIC_CONSTANTS[name]
                    means[name], stds[name] = np.asarray([mean]), np.asarray([std])
            fields.update(synthetic)
            constants = {"mean": means, "std": stds}
            if spec.time_norm is not None:
                constants["time"] = spec.time_norm
                if n_times is not None:
                    times = np.arange(n_times, dtype=np.float64) / spec.time_norm
            attrs["dataset"] = spec.name
            attrs["scot_dataset"] = spec.scot
            attrs["split_sizes"] = {
                "N_max": spec.n_max,
                "N_val": spec.n_val,
                "N_test": spec.n_test,
            }
            if spec.steps is not None:
                attrs["scot_steps"] = {
                    "max_num_time_steps": spec.steps[0],
                    "time_step_size": spec.steps[1],
                }
            if synthetic:
                attrs["synthetic_fields"] = {k: _SYNTHETIC_TEXT[k] for k in synthetic}
            if spec.transpose:
                attrs["transposed"] = "x and y swapped, as scOT reads this dataset"
            if spec.note:
                attrs["note"] = spec.note
            n = next(iter(fields.values())).n_samples
            if n >= spec.n_max:
                splits = spec.splits()
            else:
                attrs["splits"] = (
                    f"none: the file holds {n} samples, scOT's splits need N_max = "
                    f"{spec.n_max} (a download's chunk? assemble it first)"
                )
        if "_NCProperties" in f.attrs:
            attrs["netcdf"] = f.attrs["_NCProperties"]
            if isinstance(attrs["netcdf"], bytes):
                attrs["netcdf"] = attrs["netcdf"].decode()
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
    except BaseException:
        f.close()
        raise


def detect_poseidon(path: str | os.PathLike) -> bool:
    """Whether ``path`` is one of Poseidon's dataset files: an HDF5/NetCDF4 file whose name
    names a known dataset and that holds its variables (metadata only)."""
    path = os.fspath(path)
    if not os.path.isfile(path) or not h5py.is_hdf5(path):
        return False
    spec, _ = _from_name(path)
    if spec is None:
        return False
    with h5py.File(path, "r") as f:
        if spec.layout == "helmholtz":
            return "Sample_0" in f
        return any(isinstance(f.get(v), h5py.Dataset) for v in spec.variables)


def scot_normalization(file: FieldFile, key: str) -> tuple[np.ndarray, np.ndarray]:
    """scOT's per-channel ``(mean, std)`` for a field key such as
    ``"density[0],velocity[0],pressure[0]"``, in the channel order
    :func:`~opjax.data.fields.read_sample` stacks them; ``(x - mean) / std`` is scOT's input."""
    if "mean" not in file.constants:
        raise DataFormatError(f"{file.path}: no normalisation constants (unknown dataset)")
    means, stds = [], []
    for part in key.split(","):
        name, _ = parse_field_key(part)
        if name not in file.constants["mean"]:
            raise DataFormatError(
                f"{file.path}: no normalisation constants for field {name!r} "
                f"(fields: {sorted(file.constants['mean'])})"
            )
        means.append(file.constants["mean"][name])
        stds.append(file.constants["std"][name])
    return np.concatenate(means), np.concatenate(stds)
