"""The model card, ``model.json``: what rebuilds a run's model, and how it was made.

One schema serves every run directory, whether ``opjax train`` trained it or
``opjax convert`` imported its weights. :func:`write_model_card` is its one writer and
:func:`read_model_card` its one reader; every field is always written, so the reader
takes none as optional. ``model.json`` (``CARD_VERSION = 4``)::

    {
      "card_version": 4,
      "model": "fno",                  the registered name (opjax.models.build_model)
      "hparams": {...},                the module's dataclass fields
      "normalizers": {"x": ..., "y": ...},   opjax.data.Normalizers.to_dict()
      "sample_shapes": {"x": [*space, in], "y": [*space, out], "t": [], "params": [p]},
      "weights": "params" | "ema",     which checkpointed variables are the model
      "evaluation": {"h1_periodic": bool, "channel_groups": [0, 1, 3, 4] | null},
      "data": {"format", "x_key", "y_key", "window", "tests": {name: [*space]}} | null,
      "training": {"loss", "objective", "ema_decay", "finetuned_from", "correction"} | null,
      "source": {library: {...}} | null,
      "opjax_version": "0.2.0",
      "mesh": {"degree": 1, "n_dofs": 3201, "levels": 1 | 2} | null
    }

``sample_shapes`` holds the shape of one sample per :mod:`opjax.data.sample` key, without
the batch axis (``t`` and ``params`` only for models that take them): what ``model.init``
needs to rebuild the parameter tree. ``evaluation.channel_groups`` is set when the run
reports Poseidon's grouped relative L1 (``train.loss = "relative_l1"``). A trained run has
``data`` (the recipe's data spec) and ``training``, and no ``source``; a converted run has
``source`` (where the weights came from) and neither of the other two.

``training.correction`` is set for a model that corrects a coarse solver step: the
:class:`~opjax.runs.solver_spec.CorrectionSpec` as a table, from which ``opjax.load``
rebuilds the corrected model.

``mesh`` is set for a mesh model (SPON, SPON-MG): the Lagrange degree, the DOF count and
the number of nested meshes it runs on; the meshes are in the run's ``mesh.npz``
(:mod:`opjax.runs.run_mesh`).

Cards written by opjax 0.1.0 have no ``card_version`` and another layout; the reader
converts them (:func:`_from_version_1`). Version 2 cards had no ``training.correction``
(none was corrected), versions 2 and 3 no ``mesh`` (no model ran on one).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from opjax.data.normalizers import Normalizers
from opjax.runs.directory import MODEL_CARD, atomic_write

CARD_VERSION = 4


class ModelCardError(ValueError):
    """A ``model.json`` that is not a model card: names the file and the field."""


@dataclasses.dataclass(frozen=True)
class EvaluationSpec:
    """How the run's errors are measured: ``h1_periodic`` (the H1 norm's finite
    differences wrap around) and ``channel_groups`` (Poseidon's group boundaries; None: the
    run does not report Poseidon's relative L1)."""

    h1_periodic: bool
    channel_groups: tuple[int, ...] | None


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """Where a trained run's samples came from: the recipe's ``data.format``, field keys and
    ``[data.window]``, and the spatial shape of each test set."""

    format: str
    x_key: str
    y_key: str
    window: dict[str, Any]
    tests: dict[str, tuple[int, ...]]


@dataclasses.dataclass(frozen=True)
class TrainingSpec:
    """How a trained run was trained: the recipe's ``train.loss``, ``train.objective`` and
    ``train.ema_decay``, the checkpoint it was fine-tuned from (None: from scratch) and, for
    a network correcting a coarse solver, its ``CorrectionSpec.to_dict()`` (else None)."""

    loss: str
    objective: str
    ema_decay: float
    finetuned_from: str | None
    correction: dict[str, Any] | None = None


@dataclasses.dataclass(frozen=True)
class MeshSpec:
    """The mesh a mesh model was trained on: the Lagrange ``degree``, the DOF count and
    ``levels``, the number of nested meshes (1: SPON, 2: SPON-MG)."""

    degree: int
    n_dofs: int
    levels: int


@dataclasses.dataclass(frozen=True)
class ModelCard:
    """The contents of ``model.json`` (see the module docstring)."""

    model: str
    hparams: dict[str, Any]
    normalizers: Normalizers
    sample_shapes: dict[str, tuple[int, ...]]
    weights: str
    evaluation: EvaluationSpec
    data: DataSpec | None
    training: TrainingSpec | None
    source: dict[str, Any] | None
    opjax_version: str
    mesh: MeshSpec | None = None

    def __post_init__(self):
        if self.weights not in ("params", "ema"):
            raise ModelCardError(f"weights = {self.weights!r}; expected 'params' or 'ema'")
        for key in ("x", "y"):
            if key not in self.sample_shapes:
                raise ModelCardError(
                    f"sample_shapes has no {key!r} (found {sorted(self.sample_shapes)})"
                )

    def to_json(self) -> dict[str, Any]:
        """The card as ``model.json`` holds it."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields["normalizers"] = self.normalizers.to_dict()
        for name in ("evaluation", "data", "training", "mesh"):
            if fields[name] is not None:
                fields[name] = dataclasses.asdict(fields[name])
        return _plain({"card_version": CARD_VERSION, **fields})


def _plain(value: Any) -> Any:
    """Tuples as lists, recursively: the card as JSON would read it back."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def write_model_card(run_dir: str | os.PathLike, card: ModelCard) -> None:
    """Write ``card`` as ``run_dir/model.json``, atomically."""
    atomic_write(Path(run_dir) / MODEL_CARD, json.dumps(card.to_json(), indent=2) + "\n")


def read_model_card(run_dir: str | os.PathLike) -> ModelCard:
    """The model card of ``run_dir`` (either version).

    Raises:
        FileNotFoundError: ``run_dir`` has no ``model.json``.
        ModelCardError: the file is not JSON, or lacks a field, naming the file and field.
    """
    path = Path(run_dir) / MODEL_CARD
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} is not a run directory: {MODEL_CARD} is missing")
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelCardError(f"{path}: not a JSON model card ({err})") from None
    if not isinstance(raw, dict):
        raise ModelCardError(f"{path}: a model card is a JSON object, got {type(raw).__name__}")
    version = raw.get("card_version", 1)  # 0.1.0 wrote no version
    if version == 1:
        raw = _from_version_1(raw, path)
    elif version in (2, 3):
        if version == 2 and isinstance(raw.get("training"), dict):
            raw["training"] = {**raw["training"], "correction": None}
        raw["mesh"] = None
    elif version != CARD_VERSION:
        raise ModelCardError(
            f"{path}: card_version {version!r}; this opjax reads versions 1 to {CARD_VERSION}"
        )
    return _parse(raw, path)


def _field(table: dict, key: str, path: Path, where: str = "") -> Any:
    if not isinstance(table, dict) or key not in table:
        raise ModelCardError(f"{path}: the model card has no field {where + key!r}")
    return table[key]


def _section(raw: dict, name: str, cls, path: Path, convert=None):
    """The dataclass ``cls`` from ``raw[name]`` (None stays None), every field required."""
    table = _field(raw, name, path)
    if table is None:
        return None
    values = {f.name: _field(table, f.name, path, f"{name}.") for f in dataclasses.fields(cls)}
    return cls(**(convert(values) if convert else values))


def _parse(raw: dict, path: Path) -> ModelCard:
    def evaluation(values):
        groups = values["channel_groups"]
        return {**values, "channel_groups": None if groups is None else tuple(groups)}

    def data(values):
        return {**values, "tests": {k: tuple(v) for k, v in values["tests"].items()}}

    try:
        normalizers = Normalizers.from_dict(_field(raw, "normalizers", path))
    except (KeyError, TypeError, ValueError) as err:
        raise ModelCardError(f"{path}: invalid normalizers ({err!r})") from None
    shapes = _field(raw, "sample_shapes", path)
    if not isinstance(shapes, dict) or not all(
        isinstance(v, list) and all(isinstance(n, int) and n > 0 for n in v)
        for v in shapes.values()
    ):
        raise ModelCardError(f"{path}: sample_shapes must map keys to shapes, got {shapes!r}")
    _check_normalizers(normalizers, shapes, path)
    return ModelCard(
        model=_field(raw, "model", path),
        hparams=dict(_field(raw, "hparams", path)),
        normalizers=normalizers,
        sample_shapes={k: tuple(v) for k, v in shapes.items()},
        weights=_field(raw, "weights", path),
        evaluation=_section(raw, "evaluation", EvaluationSpec, path, evaluation),
        data=_section(raw, "data", DataSpec, path, data),
        training=_section(raw, "training", TrainingSpec, path),
        source=_field(raw, "source", path),
        opjax_version=_field(raw, "opjax_version", path),
        mesh=_section(raw, "mesh", MeshSpec, path),
    )


def _check_normalizers(normalizers: Normalizers, shapes: dict, path: Path) -> None:
    """Each normaliser's ``mean`` and ``std`` are finite, one per channel of its sample."""
    for key, normalizer in (("x", normalizers.x), ("y", normalizers.y)):
        if normalizer is None:
            continue
        channels = shapes.get(key, [None])[-1]
        for name in ("mean", "std"):
            values = getattr(normalizer, name)
            if values.shape != (channels,) or not np.all(np.isfinite(values)):
                raise ModelCardError(
                    f"{path}: normalizers.{key}.{name} has {values.size} values "
                    f"({'finite' if np.all(np.isfinite(values)) else 'not all finite'}); "
                    f"the model's {key} has {channels} channels"
                )


def _from_version_1(raw: dict, path: Path) -> dict:
    """A card of opjax 0.1.0 in this version's layout.

    0.1.0 kept the sample shapes and the recipe's data keys together under ``data``, and the
    training settings at the top level; converted runs had ``source`` and no training
    settings. Fields that 0.1.0 added over its lifetime (``objective``, ``ema_decay``,
    ``finetuned_from``, ``channel_groups``) take the value that applied before they existed.
    """
    data = _field(raw, "data", path)
    converted = "source" in raw
    loss = raw.get("loss", "l2")
    groups = raw.get("channel_groups") or []
    ema_decay = raw.get("ema_decay") or 0.0
    return {
        "model": _field(raw, "model", path),
        "hparams": _field(raw, "hparams", path),
        "normalizers": _field(raw, "normalizers", path),
        "sample_shapes": _field(data, "train_shape", path, "data."),
        "weights": "ema" if ema_decay else "params",
        "evaluation": {
            "h1_periodic": raw.get("h1_periodic", True),
            "channel_groups": groups if loss == "relative_l1" else None,
        },
        "data": None
        if converted
        else {
            "format": _field(data, "format", path, "data."),
            "x_key": _field(data, "x_key", path, "data."),
            "y_key": _field(data, "y_key", path, "data."),
            "window": data.get("window") or {},
            "tests": data.get("tests", {}),
        },
        "training": None
        if converted
        else {
            "loss": loss,
            "objective": raw.get("objective", "one_step"),
            "ema_decay": ema_decay,
            "finetuned_from": raw.get("finetuned_from"),
            "correction": None,
        },
        "source": raw["source"] if converted else None,
        "opjax_version": raw.get("opjax_version", "0.1.0"),
        "mesh": None,
    }
