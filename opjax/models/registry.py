"""Models registered by name, so that a model card ``{"model": name, "hparams": {...}}``
rebuilds the module that produced a set of parameters."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from typing import Any

import flax.linen as nn

_REGISTRY: dict[str, type[nn.Module]] = {}
_NOT_HPARAMS = {"parent", "name"}


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


def build_model(name: str, hparams: dict[str, Any]) -> nn.Module:
    """Instantiate the model registered as ``name``; unknown hyperparameters are an error."""
    cls = model_class(name)
    valid = hparam_names(name)
    for key in hparams:
        if key not in valid:
            hint = difflib.get_close_matches(key, valid, n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
            raise KeyError(f"model {name!r} has no hyperparameter {key!r}{suggestion}")
    # Lists (from JSON or TOML) become tuples, so that the module is hashable.
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in hparams.items()})


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
