"""Models registered by name, so that a model card ``{"model": name, "hparams": {...}}``
rebuilds the module that produced a set of parameters.

:func:`build_model` checks the hyperparameters before anything is built: each must have
the kind its field declares (an integer for ``int``, a list of integers for
``Sequence[int]``, non-empty unless in :data:`MAY_BE_EMPTY`, ...), and every number in
them must be finite and positive, except those of :data:`MAY_BE_ZERO` (which may be 0) and
:data:`ANY_SIGN`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Mapping
from typing import Any

import flax.linen as nn

_REGISTRY: dict[str, type[nn.Module]] = {}
_NOT_HPARAMS = {"parent", "name"}

#: Hyperparameters that may be 0: paddings, optional inputs, a stage without skips.
MAY_BE_ZERO = frozenset(
    {
        "padding",
        "domain_padding",
        "n_condition_params",
        "skip_connections",
        "n_params",
        "dirichlet_channels",
    }
)
#: Sequences that may be empty: a mesh model's Dirichlet data channels (none: zero data).
MAY_BE_EMPTY = frozenset({"dirichlet_channels"})
#: Hyperparameters of either sign (finite).
ANY_SIGN = frozenset(
    {"difference_weight", "coords_low", "coords_high", "params_mean", "field_mean"}
)

# The value kinds a field's annotation (a string, under ``from __future__ import
# annotations``) asks for; fields with other annotations are checked for their numbers only.
_KINDS = {
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "str": (str,),
    "Sequence[int]": (list, tuple),
    "Sequence[bool]": (list, tuple),
}


class HyperparameterError(ValueError):
    """A model's hyperparameter is unknown, of the wrong kind, or out of range."""


def register(name: str):
    """Class decorator: make a ``flax.linen.Module`` buildable as ``build_model(name, ...)``."""

    def decorate(cls):
        if name in _REGISTRY:
            raise ValueError(f"a model named {name!r} is already registered")
        _REGISTRY[name] = cls
        return cls

    return decorate


def registered_models() -> tuple[str, ...]:
    return tuple(sorted(_REGISTRY))


def hparam_names(name: str) -> tuple[str, ...]:
    """The hyperparameters (dataclass fields) of the model registered as ``name``."""
    cls = model_class(name)
    return tuple(f.name for f in dataclasses.fields(cls) if f.name not in _NOT_HPARAMS)


def model_class(name: str) -> type[nn.Module]:
    if name not in _REGISTRY:
        hint = difflib.get_close_matches(name, _REGISTRY, n=1)
        suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
        raise KeyError(
            f"unknown model {name!r}{suggestion} Registered: {', '.join(registered_models())}"
        )
    return _REGISTRY[name]


def build_model(name: str, hparams: Mapping[str, Any]) -> nn.Module:
    """Instantiate the model registered as ``name`` after checking ``hparams`` (see the
    module docstring).

    Raises:
        KeyError: an unknown model or hyperparameter name, with the closest known one.
        HyperparameterError: a missing hyperparameter, or one of the wrong kind or out of
            range, naming the model and the hyperparameter.
    """
    cls = model_class(name)
    if not isinstance(hparams, Mapping):
        raise HyperparameterError(f"model {name!r}: hyperparameters must be a table")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in _NOT_HPARAMS}
    for key, value in hparams.items():
        if key not in fields:
            hint = difflib.get_close_matches(key, fields, n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
            raise KeyError(f"model {name!r} has no hyperparameter {key!r}{suggestion}")
        _check_hparam(name, key, value, fields[key].type)
    missing = [
        key
        for key, f in fields.items()
        if key not in hparams
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise HyperparameterError(f"model {name!r} needs the hyperparameters {missing}")
    # Lists (from JSON or TOML) become tuples, so that the module is hashable.
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in hparams.items()})


def _check_hparam(model: str, key: str, value: Any, annotation: Any) -> None:
    where = f"model {model!r}: hyperparameter {key!r} = {value!r}"
    kinds = _KINDS.get(str(annotation))
    if kinds and (isinstance(value, bool) != (bool in kinds) or not isinstance(value, kinds)):
        raise HyperparameterError(f"{where}; expected {annotation}")
    if str(annotation).startswith("Sequence[") and kinds:
        item = _KINDS[str(annotation)[len("Sequence[") : -1]]
        empty = not value and bool not in item and key not in MAY_BE_EMPTY
        if empty or any(isinstance(v, bool) != (bool in item) for v in value):
            raise HyperparameterError(f"{where}; expected a non-empty {annotation}")
    for number in _numbers(value):
        low_ok = key in ANY_SIGN or number > 0 or (key in MAY_BE_ZERO and number == 0)
        if not (math.isfinite(number) and low_ok):
            bound = "finite" if key in ANY_SIGN else (">= 0" if key in MAY_BE_ZERO else "positive")
            raise HyperparameterError(f"{where}; every number must be {bound}")


def _numbers(value: Any) -> list[float]:
    """The numbers in a hyperparameter (a number, or nested lists and tables of them)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [value]
    if isinstance(value, Mapping):
        return []  # nested hyperparameters (a backbone's) are checked when it is built
    if isinstance(value, (list, tuple)):
        return [n for v in value for n in _numbers(v)]
    return []


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):  # nested hyperparameters (a FrozenDict), e.g. a backbone's
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def model_hparams(model: nn.Module) -> dict[str, Any]:
    """The hyperparameters of a model instance, as plain JSON-able values."""
    return {
        f.name: _jsonable(getattr(model, f.name))
        for f in dataclasses.fields(model)
        if f.name not in _NOT_HPARAMS
    }
