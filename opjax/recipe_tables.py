"""TOML recipes with defaults: the machinery shared by training and dataset recipes.

A recipe is a nested table. A :class:`RecipeSchema` gives every key a default (so a recipe
names only what it changes), lists the tables whose keys are free (chosen by the user),
the keys that hold file paths, and the keys restricted to a few choices. Reading a recipe
merges it into the defaults: an unknown key is an error naming the closest valid key, a
value of the wrong type (a float where a count is meant, say) or out of its :class:`Range`
(a count that is not positive, a negative learning rate, NaN) is an error naming the key.
``--set key=value`` overrides are parsed as TOML values. Paths in a recipe file are
relative to that file; paths in overrides are relative to the working directory.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
import os
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


class RecipeError(ValueError):
    """A recipe names an unknown key, has a wrong type, or an invalid value."""


@dataclasses.dataclass(frozen=True)
class Range:
    """The interval a recipe number must lie in: ``low <= value < high`` (``None``: no
    bound; ``low_open``: ``low < value``; ``high_closed``: ``value <= high``). Every number
    must also be finite."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_closed: bool = False

    def check(self, dotted: str, value: float) -> None:
        """Raise :class:`RecipeError` naming ``dotted`` unless ``value`` lies in the range."""
        below = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        above = self.high is not None and (
            value > self.high if self.high_closed else value >= self.high
        )
        if not math.isfinite(value) or below or above:
            raise RecipeError(f"recipe key {dotted!r} is {value!r}; expected {self}")

    def __str__(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{self.low!r} {'<' if self.low_open else '<='}")
        parts.append("value")
        if self.high is not None:
            parts.append(f"{'<=' if self.high_closed else '<'} {self.high!r}")
        return "a finite " + " ".join(parts) if len(parts) > 1 else "a finite value"


#: Counts of things (epochs, samples per batch): integers >= 1.
POSITIVE = Range(1)
#: Counts where 0 means "all" or "none": integers >= 0; and non-negative amounts.
NON_NEGATIVE = Range(0)
#: Amounts that must be above zero (a learning rate, a step size).
ABOVE_ZERO = Range(0, low_open=True)
#: Decay rates and moment coefficients: ``0 <= value < 1``.
FRACTION = Range(0, 1)
#: Weights and probabilities: ``0 <= value <= 1``.
UNIT_INTERVAL = Range(0, 1, high_closed=True)
#: Shares of a set that must keep something: ``0 < value <= 1``.
SHARE = Range(0, 1, low_open=True, high_closed=True)
#: Seeds: what ``jax.random.PRNGKey`` takes, ``0 <= seed < 2**32``.
SEED = Range(0, 2**32)


@dataclasses.dataclass(frozen=True)
class RecipeSchema:
    """Defaults and rules of one kind of recipe.

    Attributes:
        defaults: every valid key with its default value (nested dicts are tables).
        free_tables: paths of tables whose keys are not checked (e.g. model hparams).
        path_keys: paths of string keys holding file paths, made absolute when read.
        path_tables: paths of free tables whose values are all file paths.
        choices: paths of keys restricted to a tuple of allowed values.
        ranges: paths of numeric keys (or lists of numbers) and the :class:`Range` of each;
            every other number must be finite.
    """

    defaults: dict[str, Any]
    free_tables: frozenset = frozenset()
    path_keys: frozenset = frozenset()
    path_tables: frozenset = frozenset()
    choices: dict = dataclasses.field(default_factory=dict)
    ranges: dict = dataclasses.field(default_factory=dict)

    def all_keys(self, table: dict | None = None, prefix: tuple = ()) -> list[str]:
        table = self.defaults if table is None else table
        keys = []
        for key, value in table.items():
            path = (*prefix, key)
            keys.append(".".join(path))
            if isinstance(value, dict) and path not in self.free_tables:
                keys += self.all_keys(value, path)
        return keys

    def unknown_key(self, path: tuple[str, ...]) -> RecipeError:
        dotted = ".".join(path)
        hint = difflib.get_close_matches(dotted, self.all_keys(), n=1, cutoff=0.5)
        suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
        return RecipeError(f"unknown recipe key {dotted!r}{suggestion}")

    def merge(self, base: dict, update: dict, prefix: tuple = ()) -> None:
        """Update ``base`` (a copy of the defaults) in place with ``update``, checked.

        A table updates the keys it names; an empty free table (``data.test = {}``) empties
        the table it updates, rather than being a silent no-op.
        """
        for key, value in update.items():
            path = (*prefix, key)
            if prefix in self.free_tables:
                base[key] = value
                continue
            if key not in base:
                raise self.unknown_key(path)
            default = base[key]
            dotted = ".".join(path)
            if isinstance(default, dict):
                if not isinstance(value, dict):
                    raise RecipeError(f"recipe key {dotted!r} must be a table")
                if not value and path in self.free_tables:
                    default.clear()
                self.merge(default, value, path)
                continue
            if not _same_kind(default, value):
                kind = "an integer" if type(default) is int else type(default).__name__
                raise RecipeError(f"recipe key {dotted!r} must be {kind}, got {value!r}")
            if isinstance(default, float) and isinstance(value, int):
                value = float(value)
            allowed = self.choices.get(path)
            if allowed and value not in allowed:
                raise RecipeError(f"recipe key {dotted!r} is {value!r}; expected one of {allowed}")
            self.check_range(path, value)
            base[key] = value

    def check_range(self, path: tuple[str, ...], value: Any) -> None:
        """Raise :class:`RecipeError` if a number in ``value`` (a number or a list) is not
        finite or lies outside the key's :class:`Range`."""
        numbers = value if isinstance(value, list) else [value]
        for number in numbers:
            if isinstance(number, bool) or not isinstance(number, (int, float)):
                continue
            self.ranges.get(path, Range()).check(".".join(path), number)

    def resolve_paths(self, update: dict, root: Path) -> None:
        """Make the file paths in ``update`` absolute, relative to ``root``."""

        def absolute(p: str) -> str:
            return p if not p or os.path.isabs(p) else str((root / p).resolve())

        def parent_table(path: tuple) -> dict:
            table = update
            for key in path[:-1]:
                table = table.get(key, {})
            return table

        for path in self.path_keys:
            table = parent_table(path)
            if isinstance(table.get(path[-1]), str):
                table[path[-1]] = absolute(table[path[-1]])
        for path in self.path_tables:
            table = parent_table(path).get(path[-1], {})
            for name, p in table.items():
                if isinstance(p, str):
                    table[name] = absolute(p)

    def load(self, path: str | os.PathLike | None = None, overrides=()) -> dict:
        """Defaults, updated by the recipe file (if any), then by ``key=value`` overrides."""
        recipe = copy.deepcopy(self.defaults)
        if path is not None:
            path = Path(path)
            try:
                update = tomllib.loads(path.read_text())
            except FileNotFoundError:
                raise RecipeError(f"{path}: no such recipe file") from None
            except tomllib.TOMLDecodeError as err:
                raise RecipeError(f"{path}: invalid TOML ({err})") from err
            self.resolve_paths(update, path.parent.resolve())
            self.merge(recipe, update)
        for text in overrides:
            update = parse_override(text)
            self.resolve_paths(update, Path.cwd())
            self.merge(recipe, update)
        return recipe


def _same_kind(default: Any, value: Any) -> bool:
    """Whether ``value`` may replace ``default``: a bool for a bool, an integer (not a
    float) for an integer, a number for a float, a string for a string, a list for a list."""
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


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
