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
* ``[data]``: ``generate`` (a dataset recipe, see :mod:`opjax.data.generation`: its files
  are generated once, cached, and become ``train`` and ``test`` with format ``opjax_h5``),
  ``format``, ``train`` (file), ``n_train``, ``[data.test]`` (name -> file),
  ``n_test``, ``train_split`` and ``test_split`` (for files that define their own splits,
  such as Poseidon's: which one to read; empty: the whole file), ``normalize_x``,
  ``normalize_y``, ``x_key``, ``y_key`` (field keys such as ``"u[0]"``, see
  :func:`opjax.data.fields.parse_field_key`), and ``[data.window]``:
  ``field`` (a time-dependent field: train on all its ``k``-in / ``m``-out windows instead
  of ``x_key``/``y_key``; ``n_train``/``n_test`` then count trajectories), ``k``, ``m``,
  ``stride``, ``time_step`` (see :func:`opjax.data.windowing.k_in_m_out`);
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

import os
from pathlib import Path
from typing import Any

from opjax.recipe_tables import RecipeError, RecipeSchema, dump_toml, parse_override

DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "run_dir": "",
    "model": {"name": "fno", "hparams": {}},
    "data": {
        "generate": "",
        "format": "neuralop_pt",
        "train": "",
        "train_split": "",
        "n_train": 0,
        "test": {},
        "test_split": "",
        "n_test": 0,
        "normalize_x": False,
        "normalize_y": True,
        "x_key": "x",
        "y_key": "y",
        "window": {"field": "", "k": 1, "m": 1, "stride": 1, "time_step": 1},
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

SCHEMA = RecipeSchema(
    defaults=DEFAULTS,
    free_tables=frozenset({("model", "hparams"), ("data", "test")}),
    path_keys=frozenset({("data", "train"), ("data", "generate"), ("run_dir",)}),
    path_tables=frozenset({("data", "test")}),
    choices={
        ("train", "loss"): ("l2", "h1"),
        ("optimizer", "schedule"): ("constant", "cosine", "step"),
        ("optimizer", "schedule_interval"): ("epoch", "step"),
    },
)


def load_recipe(path: str | os.PathLike | None = None, overrides: list[str] = ()) -> dict:
    """Defaults, updated by the recipe file (if any), then by ``key=value`` overrides."""
    recipe = SCHEMA.load(path, overrides)
    if not recipe["run_dir"]:
        stem = Path(path).stem if path is not None else "default"
        recipe["run_dir"] = _unused_run_dir(Path("runs") / stem)
    return recipe


def _unused_run_dir(base: Path) -> str:
    """``base``, or ``base-1``, ``base-2``, ... : the first that does not exist yet."""
    candidate, n = base, 0
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return str(candidate)


__all__ = ["DEFAULTS", "SCHEMA", "RecipeError", "dump_toml", "load_recipe", "parse_override"]
