"""Training recipes: TOML files with defaults, validation and ``--set`` overrides.

A recipe is a nested table; every key has a default below, so a recipe names only what it
changes. An unknown key is an error that names the closest valid key. Paths in a recipe
file are relative to that file; paths given with ``--set`` are relative to the working
directory. The resolved recipe (all defaults filled in, paths absolute) is what a run
directory stores as ``config.toml``.

Sections:

* top level: ``seed``, ``run_dir`` (default: ``runs/<recipe name>``, numbered ``-1``,
  ``-2``, ... when that exists);
* ``[model]``: ``name`` (a registered model) and ``[model.hparams]`` (its dataclass fields;
  ``in_channels`` and ``out_channels`` default to the data's);
* ``[data]``: ``format``, ``train`` (file), ``n_train``, ``[data.test]`` (name -> file),
  ``n_test``, ``normalize_x``, ``normalize_y``, ``x_key``, ``y_key``;
* ``[train]``: ``epochs``, ``batch_size``, ``eval_batch_size``, ``loss`` (``"l2"`` or
  ``"h1"``), ``h1_periodic``, ``shuffle``, ``eval_every``, ``checkpoint_every`` (epochs;
  the last epoch is always checkpointed, and ``best`` is chosen among checkpointed epochs);
* ``[optimizer]``: AdamW's ``lr``, ``weight_decay``, ``b1``, ``b2``, ``eps``,
  ``grad_clip``; ``schedule`` (``"constant"``, ``"cosine"``, ``"step"``),
  ``schedule_interval`` (``"epoch"`` steps the schedule once per epoch as PyTorch's
  schedulers do, ``"step"`` every optimizer step), ``cosine_t_max`` (in schedule
  intervals; 0 means the whole run), ``step_size``, ``gamma``, ``warmup`` (intervals).
"""

from __future__ import annotations

import copy
import difflib
import os
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from typing import Any

DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "run_dir": "",
    "model": {"name": "fno", "hparams": {}},
    "data": {
        "format": "neuralop_pt",
        "train": "",
        "n_train": 0,
        "test": {},
        "n_test": 0,
        "normalize_x": False,
        "normalize_y": True,
        "x_key": "x",
        "y_key": "y",
    },
    "train": {
        "epochs": 20,
        "batch_size": 32,
        "eval_batch_size": 32,
        "loss": "h1",
        "h1_periodic": True,
        "shuffle": True,
        "eval_every": 1,
        "checkpoint_every": 1,
    },
    "optimizer": {
        "lr": 1e-3,
        "weight_decay": 1e-4,
        "b1": 0.9,
        "b2": 0.999,
        "eps": 1e-8,
        "grad_clip": 0.0,
        "schedule": "cosine",
        "schedule_interval": "epoch",
        "cosine_t_max": 0,
        "step_size": 100,
        "gamma": 0.5,
        "warmup": 0,
    },
}

# Tables whose keys are free (names chosen by the user), not checked against DEFAULTS.
FREE_TABLES = {("model", "hparams"), ("data", "test")}
PATH_KEYS = {("data", "train"), ("run_dir",)}
CHOICES = {
    ("train", "loss"): ("l2", "h1"),
    ("optimizer", "schedule"): ("constant", "cosine", "step"),
    ("optimizer", "schedule_interval"): ("epoch", "step"),
}


class RecipeError(ValueError):
    """A recipe names an unknown key, has a wrong type, or an invalid value."""


def _all_keys(table: dict, prefix: tuple = ()) -> list[str]:
    keys = []
    for key, value in table.items():
        path = (*prefix, key)
        keys.append(".".join(path))
        if isinstance(value, dict) and path not in FREE_TABLES:
            keys += _all_keys(value, path)
    return keys


def _unknown_key(path: tuple[str, ...]) -> RecipeError:
    dotted = ".".join(path)
    hint = difflib.get_close_matches(dotted, _all_keys(DEFAULTS), n=1, cutoff=0.5)
    suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
    return RecipeError(f"unknown recipe key {dotted!r}{suggestion}")


def _merge(base: dict, update: dict, prefix: tuple = ()) -> None:
    for key, value in update.items():
        path = (*prefix, key)
        if prefix in FREE_TABLES:
            base[key] = value
            continue
        if key not in base:
            raise _unknown_key(path)
        default = base[key]
        if isinstance(default, dict):
            if not isinstance(value, dict):
                raise RecipeError(f"recipe key {'.'.join(path)!r} must be a table")
            _merge(default, value, path)
            continue
        if (
            isinstance(default, bool) != isinstance(value, bool)
            or (isinstance(default, (int, float)) and not isinstance(value, (int, float)))
            or (isinstance(default, str) and not isinstance(value, str))
        ):
            raise RecipeError(
                f"recipe key {'.'.join(path)!r} must be {type(default).__name__}, got {value!r}"
            )
        if isinstance(default, float) and isinstance(value, int):
            value = float(value)
        allowed = CHOICES.get(path)
        if allowed and value not in allowed:
            raise RecipeError(
                f"recipe key {'.'.join(path)!r} is {value!r}; expected one of {allowed}"
            )
        base[key] = value


def _resolve_paths(update: dict, root: Path) -> None:
    """Make the file paths in ``update`` absolute, relative to ``root``."""

    def absolute(p: str) -> str:
        return p if not p or os.path.isabs(p) else str((root / p).resolve())

    for path in PATH_KEYS:
        table = update
        for key in path[:-1]:
            table = table.get(key, {})
        if isinstance(table.get(path[-1]), str):
            table[path[-1]] = absolute(table[path[-1]])
    tests = update.get("data", {}).get("test", {})
    for name, p in tests.items():
        if isinstance(p, str):
            tests[name] = absolute(p)


def parse_override(text: str) -> dict:
    """``"optimizer.lr=1e-3"`` -> ``{"optimizer": {"lr": 0.001}}`` (value parsed as TOML)."""
    if "=" not in text:
        raise RecipeError(f"--set expects key=value, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    out: dict = {}
    table = out
    parts = key.strip().split(".")
    for part in parts[:-1]:
        table = table.setdefault(part, {})
    table[parts[-1]] = value
    return out


def load_recipe(path: str | os.PathLike | None = None, overrides: list[str] = ()) -> dict:
    """Defaults, updated by the recipe file (if any), then by ``key=value`` overrides."""
    recipe = copy.deepcopy(DEFAULTS)
    if path is not None:
        path = Path(path)
        try:
            update = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise RecipeError(f"{path}: no such recipe file") from None
        except tomllib.TOMLDecodeError as err:
            raise RecipeError(f"{path}: invalid TOML ({err})") from err
        _resolve_paths(update, path.parent.resolve())
        _merge(recipe, update)
    for text in overrides:
        update = parse_override(text)
        _resolve_paths(update, Path.cwd())
        _merge(recipe, update)
    if not recipe["run_dir"]:
        recipe["run_dir"] = _unused_run_dir(Path("runs") / (path.stem if path else "default"))
    return recipe


def _unused_run_dir(base: Path) -> str:
    """``base``, or ``base-1``, ``base-2``, ... : the first that does not exist yet."""
    candidate, n = base, 0
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return str(candidate)


def dump_toml(table: dict) -> str:
    """Serialise a recipe to TOML (strings, numbers, booleans, lists, nested tables)."""
    lines: list[str] = []

    def value(v) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return repr(v)

    def emit(t: dict, prefix: str) -> None:
        scalars = {k: v for k, v in t.items() if not isinstance(v, dict)}
        tables = {k: v for k, v in t.items() if isinstance(v, dict)}
        if prefix:
            lines.append(f"\n[{prefix}]")
        for k, v in scalars.items():
            lines.append(f"{value(k) if not k.isidentifier() else k} = {value(v)}")
        for k, v in tables.items():
            emit(v, f"{prefix}.{k}" if prefix else k)

    emit(table, "")
    return "\n".join(lines).lstrip("\n") + "\n"
