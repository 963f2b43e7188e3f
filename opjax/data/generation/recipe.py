"""Dataset recipes: what ``opjax generate`` writes, as TOML.

::

    problem = "burgers1d"      # a generator of opjax.data.generation.problems
    seed = 0                   # samples depend only on (seed, split, index)
    output = ""                # directory of <split>.h5; default data/<recipe name>
    chunk_size = 32            # samples drawn (vmapped) and written at a time
    precision = "float64"      # solver arithmetic; the files store float32

    [parameters]               # the problem's parameters (each has a default)
    viscosity = 0.1

    [splits]                   # split name -> number of samples, or a table
    train = 1000
    test = { n_samples = 200, parameters = { n_times = 41 } }

An unknown key (also among ``parameters``) is an error naming the closest valid key.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from opjax.data.generation.problems import PROBLEMS
from opjax.recipe_tables import (
    ABOVE_ZERO,
    NON_NEGATIVE,
    POSITIVE,
    SEED,
    Range,
    RecipeError,
    RecipeSchema,
)

DEFAULTS: dict[str, Any] = {
    "problem": "",
    "seed": 0,
    "output": "",
    "chunk_size": 32,
    "precision": "float64",
    "parameters": {},
    "splits": {},
}

SCHEMA = RecipeSchema(
    defaults=DEFAULTS,
    free_tables=frozenset({("parameters",), ("splits",)}),
    path_keys=frozenset({("output",)}),
    choices={("precision",): ("float32", "float64")},
    ranges={("seed",): SEED, ("chunk_size",): POSITIVE},
)

#: The problems' parameters that may be zero (or, for ``ANY_SIGN``, negative); every other
#: number a problem takes (grid points, times, steps, lengths, field scales) must be
#: positive, and every number finite.
MAY_BE_ZERO = frozenset(
    {
        "viscosity",
        "drag",
        "burn_in",
        "domain_jitter",
        "amplitude",
        "warmup_steps",
        "refinements",
        "boundary_std",
    }
)
ANY_SIGN = frozenset(
    {"velocity", "forcing", "forcing_amplitude", "a1", "a2", "a3", "a4", "convection"}
)


def _parameter_range(name: str) -> Range:
    if name in ANY_SIGN:
        return Range()
    return NON_NEGATIVE if name in MAY_BE_ZERO else ABOVE_ZERO


def _parameters(problem: str, base: dict, update: dict, where: str) -> dict:
    """``base`` (problem parameters) updated by ``update``, with unknown keys, values out of
    range and values not among the problem's ``CHOICES`` named."""
    merged = copy.deepcopy(base)
    ranges = {(name,): _parameter_range(name) for name in base}
    choices = {
        (name,): values for name, values in getattr(PROBLEMS[problem], "CHOICES", {}).items()
    }
    try:
        RecipeSchema(defaults=base, ranges=ranges, choices=choices).merge(merged, update)
    except RecipeError as err:
        raise RecipeError(f"{where}: {err} (problem {problem!r})") from None
    return merged


def load_dataset_recipe(path: str | os.PathLike | None = None, overrides=()) -> dict:
    """The resolved recipe: every parameter filled in, per split; ``output`` absolute.

    Returns ``{"problem", "seed", "output", "chunk_size", "precision", "parameters",
    "splits": {name: {"n_samples": int, "parameters": dict}}}``.
    """
    recipe = SCHEMA.load(path, overrides)
    problem = recipe["problem"]
    if problem not in PROBLEMS:
        raise RecipeError(
            f"recipe key 'problem' is {problem!r}; expected one of {sorted(PROBLEMS)}"
        )
    defaults = PROBLEMS[problem].DEFAULTS
    recipe["parameters"] = _parameters(problem, defaults, recipe["parameters"], "parameters")
    if not recipe["splits"]:
        raise RecipeError("the recipe has no [splits]: name at least one, e.g. train = 100")
    splits = {}
    for name, spec in recipe["splits"].items():
        if isinstance(spec, int) and not isinstance(spec, bool):
            spec = {"n_samples": spec}
        if not isinstance(spec, dict) or not isinstance(spec.get("n_samples"), int):
            raise RecipeError(
                f"splits.{name} must be a sample count or a table with n_samples, got {spec!r}"
            )
        unknown = set(spec) - {"n_samples", "parameters"}
        if unknown:
            raise RecipeError(f"splits.{name}: unknown keys {sorted(unknown)}")
        if spec["n_samples"] < 1:
            raise RecipeError(f"splits.{name}.n_samples must be positive")
        where = f"splits.{name}.parameters"
        parameters = _parameters(problem, recipe["parameters"], spec.get("parameters", {}), where)
        splits[name] = {"n_samples": spec["n_samples"], "parameters": parameters}
    recipe["splits"] = splits
    if not recipe["output"]:
        stem = Path(path).stem if path is not None else problem
        recipe["output"] = str((Path("data") / stem).resolve())
    return recipe
