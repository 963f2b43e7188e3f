"""The catalogue of Poseidon's datasets (camlab-ethz, the scOT repository): what scOT knows
about each one, and how a file's name names it.

Each :class:`PoseidonDataset` records the variables of its files, which channels of them
make which field (:class:`DatasetPart`), scOT's splits, normalisation constants and time
normalisation, and the fields scOT makes up rather than reads (:data:`SYNTHETIC_FIELDS`).
:mod:`opjax.data.formats.poseidon` reads the files with it.

Splits (:meth:`PoseidonDataset.splits`, scOT's ``BaseDataset.post_init``): of ``N_max``
samples, ``train = [0, N_max - N_val - N_test)``, ``val = [N_max - N_val - N_test,
N_max - N_test)``, ``test = [N_max - N_test, N_max)``; samples past ``N_max`` are in no
split. The numbers are scOT's, from ``scOT/problems/**``, and agree with the dataset cards on
the Hugging Face Hub:

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

"steps" are scOT's all2all defaults (``max_num_time_steps``, ``time_step_size``); "time
norm" ``T_norm`` makes scOT's normalised time ``arange(T) / T_norm``.

Normalisation constants (``DatasetPart.mean``, ``DatasetPart.std``, per channel) are such
that ``(u - mean) / std`` is exactly what scOT feeds its model. Where they come from (all
``scOT/problems/**``):

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
  sets the normalised target to 1 on the airfoil, ``PoseidonDataset.note``);
* Helmholtz: u 0.11523915668552 / 0.8279975746000605; a enters as ``a - 1`` (1 / 1), bc
  raw (0 / 1).

Fields scOT never normalises (the CE-RM and GCE-RT tracers) get 0 / 1.

Names: a dataset is known by its Hub name (``"NS-PwC"``) or scOT's identifier
(``"fluids.incompressible.PiecewiseConstants"``, also with ``.time``), in any case
(:func:`lookup_dataset`). A file names it as ``NS-PwC.nc`` or ``NS-PwC_0.nc``, or, for a
download's chunk ``velocity_0.nc``, by its folder ``NS-PwC`` (:func:`dataset_of_path`).
"""

from __future__ import annotations

import dataclasses
import os
import re

import numpy as np

__all__ = [
    "DATASETS",
    "SYNTHETIC_FIELDS",
    "DatasetPart",
    "PoseidonDataset",
    "SyntheticField",
    "chunk_variable",
    "dataset_of_path",
    "lookup_dataset",
]

# Incompressible-flow constants of scOT (fluids/normalization_constants.py), (mean, std).
_RHO, _P = (0.80, 0.31), (0.0, 0.185)
_UV = ((0.0, 0.0), (0.391, 0.356))
_TRACER = (0.19586183, 0.37)
_FORCING = (-1.2996679288335145e-09, 0.0707106739282608)

_VELOCITY_NAMES = ("velocity_x", "velocity_y")


@dataclasses.dataclass(frozen=True)
class DatasetPart:
    """One field cut out of a file variable: ``channels`` of its channel axis (None: the
    variable has no channel axis), with scOT's per-channel ``mean``/``std``."""

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
    parts: tuple[DatasetPart, ...]
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
        """The file variables the parts are cut from, each once, in order."""
        return tuple(dict.fromkeys(p.variable for p in self.parts))

    def splits(self) -> dict[str, np.ndarray]:
        """scOT's ``train``, ``val`` and ``test`` sample indices (see the module docstring)."""
        n_train = self.n_max - self.n_val - self.n_test
        return {
            "train": np.arange(0, n_train),
            "val": np.arange(n_train, self.n_max - self.n_test),
            "test": np.arange(self.n_max - self.n_test, self.n_max),
        }


@dataclasses.dataclass(frozen=True)
class SyntheticField:
    """A one-channel field scOT feeds its model but the files do not hold.

    Attributes:
        description: what it holds, for the reader's ``attrs["synthetic_fields"]``.
        mean, std: scOT's normalisation constants for it.
        value: its value everywhere, or None for FNS-KF's steady forcing
            ``0.1 sin(2 pi (x + y))`` on ``linspace(0, 1, X) x linspace(0, 1, Y)``.
    """

    description: str
    mean: float
    std: float
    value: float | None = None


#: The fields a dataset's ``synthetic`` may name.
SYNTHETIC_FIELDS: dict[str, SyntheticField] = {
    "density": SyntheticField("1 everywhere (scOT's input for incompressible flow)", *_RHO, 1.0),
    "pressure": SyntheticField("0 everywhere (scOT's input for incompressible flow)", *_P, 0.0),
    "forcing": SyntheticField("0.1 sin(2 pi (x + y)) on linspace(0, 1) grids", *_FORCING),
}


def _part(field, variable, channels, names, mean, std, optional=False, steady=False):
    """A :class:`DatasetPart`, with scalar constants taken as one channel's."""
    return DatasetPart(
        field,
        variable,
        None if channels is None else tuple(channels),
        tuple(names),
        tuple(float(m) for m in np.atleast_1d(mean)),
        tuple(float(s) for s in np.atleast_1d(std)),
        optional,
        steady,
    )


def _incompressible(name, scot, n_max=20000, transpose=False):
    """An NS-* dataset: ``velocity [N, 21, 2|3, X, Y]``, channels u, v (and a tracer)."""
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


def _compressible(name, scot, mean_pressure):
    """A CE-* dataset: ``data [N, 21, 5, X, Y]``, channels rho, u, v, p, E, of which scOT
    normalises the pressure after subtracting ``mean_pressure``."""
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
    """The parts rho, (u, v), p of channels 0 to 3 of ``variable``, then ``extra``;
    ``mean``/``std`` hold the four channels' constants."""
    return (
        _part("density", variable, (0,), ("density",), mean[0], std[0]),
        _part("velocity", variable, (1, 2), _VELOCITY_NAMES, mean[1:3], std[1:3]),
        _part("pressure", variable, (3,), ("pressure",), mean[3], std[3]),
        *extra,
    )


def _wave(name, scot, solution, speed, time_norm):
    """A Wave-* dataset: ``solution [N, T, X, Y]`` and the steady wave speed ``c [N, X, Y]``,
    with ``(mean, std)`` each."""
    return PoseidonDataset(
        name,
        scot,
        "trajectory",
        (
            _part("solution", "solution", None, ("u",), *solution),
            _part("c", "c", None, ("c",), *speed, steady=True),
        ),
        10512,
        60,
        240,
        time_norm=time_norm,
    )


#: The datasets scOT defines, by their Hub name.
DATASETS: dict[str, PoseidonDataset] = {
    dataset.name: dataset
    for dataset in (
        _incompressible("NS-PwC", "fluids.incompressible.PiecewiseConstants"),
        _incompressible("NS-Tracer-PwC", "fluids.incompressible.PiecewiseConstants.tracer"),
        _incompressible("NS-Gauss", "fluids.incompressible.Gaussians"),
        _incompressible("NS-SVS", "fluids.incompressible.VortexSheet"),
        _incompressible("NS-Sines", "fluids.incompressible.Sines"),
        _incompressible("NS-BB", "fluids.incompressible.BrownianBridge"),
        _incompressible("NS-SL", "fluids.incompressible.ShearLayer", n_max=40000, transpose=True),
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
        _compressible("CE-RP", "fluids.compressible.Riemann", 0.215),
        _compressible("CE-CRP", "fluids.compressible.RiemannCurved", 0.553),
        _compressible("CE-KH", "fluids.compressible.KelvinHelmholtz", 1.0),
        _compressible("CE-Gauss", "fluids.compressible.Gaussians", 2.513),
        _compressible("CE-RPUI", "fluids.compressible.RiemannKelvinHelmholtz", 1.33),
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
        _wave(
            "Wave-Layer",
            "wave.Layer",
            (0.03467443221585092, 0.10442421752963911),
            (3498.5644380917424, 647.843958567462),
            time_norm=20.0,
        ),
        _wave(
            "Wave-Gauss",
            "wave.Gaussians",
            (0.0334376316, 0.1171879068),
            (2618.4593933, 601.51658913),
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
                _part(
                    "solution", "solution", None, ("u",), 0.0005603458434937093, 0.02401226126952699
                ),
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
}

_VARIABLE_CHUNK = re.compile(r"^([A-Za-z]+)_\d+$")  # a download's chunk: velocity_3.nc


def lookup_dataset(name: str) -> PoseidonDataset | None:
    """The dataset a Hub name or scOT identifier names, in any case (None: none does)."""
    key = name.strip().lower()
    for dataset in DATASETS.values():
        if key in (dataset.name.lower(), dataset.scot.lower(), dataset.scot.lower() + ".time"):
            return dataset
    return None


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def chunk_variable(path: str) -> str | None:
    """The variable a download's chunk ``<variable>_<k>.nc`` holds (None: not such a name)."""
    match = _VARIABLE_CHUNK.match(_stem(path))
    return match.group(1) if match else None


def dataset_of_path(path: str) -> tuple[PoseidonDataset | None, str | None]:
    """The dataset a file's name names (``NS-PwC.nc``, ``NS-PwC_0.nc``), or for a download's
    chunk ``<variable>_<k>.nc`` its folder's name, with the variable the chunk holds
    (None for a file named after its dataset)."""
    stem = _stem(path)
    dataset = lookup_dataset(stem) or lookup_dataset(re.sub(r"_\d+$", "", stem))
    if dataset is not None:
        return dataset, None
    variable = chunk_variable(path)
    if variable is None:
        return None, None
    return lookup_dataset(os.path.basename(os.path.dirname(os.path.abspath(path)))), variable
