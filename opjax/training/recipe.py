"""Training recipes: TOML files with defaults, validation and ``--set`` overrides.

A recipe is a nested table; every key has a default below, so a recipe names only what it
changes. An unknown key is an error that names the closest valid key. Paths in a recipe
file are relative to that file; paths given with ``--set`` are relative to the working
directory. The resolved recipe (all defaults filled in, paths absolute) is what a run
directory stores as ``config.toml``.

Sections:

* top level: ``name`` (default: the recipe file's stem), ``seed``, ``run_dir`` (default:
  ``runs/<name>``, numbered ``-1``, ``-2``, ... when that exists; the directory is
  claimed when training starts, see :func:`opjax.runs.directory.claim_run_directory`);
* ``[model]``: ``name`` (a registered model) and ``[model.hparams]`` (its dataclass fields;
  ``in_channels`` and ``out_channels`` default to the data's);
* ``[data]``: ``generate`` (a dataset recipe, see :mod:`opjax.data.generation`: its files
  are generated once, cached, and become ``train`` and ``test`` with format ``opjax_h5``),
  ``format``, ``train`` (file), ``n_train``, ``[data.test]`` (name -> file),
  ``n_test``, ``train_split`` and ``test_split`` (for files that define their own splits,
  such as Poseidon's: which one to read; empty: the whole file), ``normalize_x``,
  ``normalize_y``, ``x_key``, ``y_key`` (field keys such as ``"u[0]"``, see
  :func:`opjax.data.fields.parse_field_key`), and ``[data.window]``:
  ``field`` (a time-dependent field: train on its windows instead of ``x_key``/``y_key``;
  ``n_train``/``n_test`` then count trajectories), ``pairs`` (``"k_in_m_out"``: all
  ``k``-in / ``m``-out windows with ``k``, ``m``, ``stride``, ``time_step`` and
  ``all_offsets`` (training windows from every saved state, not only every
  ``time_step``-th), see :func:`opjax.data.windowing.k_in_m_out`; ``"all2all"``:
  Poseidon's pairs of states ``i <= j`` with lead time ``t = (t_j - t_i) / time_scale`` as
  the model's time input, using ``time_step``, ``max_states`` (0: all) and ``time_scale``
  (0: the file's own, e.g. Poseidon's 20 snapshots per unit, else 1), see
  :func:`opjax.data.windowing.all_to_all_pairs`; ``"trajectories"``: whole trajectories for
  reduced-order models, the first ``max_states`` (0: all) of each training trajectory and
  all states of the test ones), ``params`` (names of the file's
  per-trajectory PDE parameters, e.g. ``["domain_length"]``: every pair carries them as
  ``params``, the model's conditioning input ``z``);
* ``[train]``: ``epochs``, ``batch_size``, ``eval_batch_size``, ``loss`` (``"l2"``,
  ``"h1"``, Poseidon's ``"relative_l1"``, which also makes the evaluation report
  Poseidon's metric ``relative_l1``: mean over groups of the median relative L1, or
  pdearena's ``"mse"``: mean over space, summed over channels; ``best`` is then chosen by
  the relative L2), ``channel_groups`` (Poseidon's channel-group boundaries, e.g.
  ``[0, 1, 3, 4]`` for rho | u, v | p; empty: one group), ``h1_periodic``, ``shuffle``,
  ``eval_every``, ``checkpoint_every`` (epochs; the last epoch is always checkpointed, and
  ``best`` is chosen among checkpointed epochs), ``objective`` (``"one_step"``: predict
  ``y`` in one model call with ``loss``; ``"refinement"``: PDE-Refiner's denoising
  objective at a random refinement step, for ``model.name = "refiner"``, which needs
  ``loss = "mse"``; see :mod:`opjax.training.objectives`; ``"phirom"``: Phi-ROM's
  physics-informed objective, and ``"latent_ode"``: its data-only baseline, for
  ``model.name = "phirom"`` on ``data.window.pairs = "trajectories"``, see
  :mod:`opjax.workflows.reduced_order`; ``train.loss`` is then unused), ``ema_decay`` (0: off; else
  an exponential moving average of the weights, ``ema <- d ema + (1 - d) params`` after
  every step, is what evaluation, ``best`` and ``opjax.load`` use; pdearena: 0.995);
* ``[optimizer]``: AdamW's ``lr``, ``weight_decay``, ``b1``, ``b2``, ``eps``,
  ``grad_clip``; ``schedule`` (``"constant"``, ``"cosine"``, ``"step"``),
  ``schedule_interval`` (``"epoch"`` steps the schedule once per epoch as PyTorch's
  schedulers do, ``"step"`` every optimizer step), ``cosine_t_max`` (in schedule
  intervals; 0 means the whole run), ``step_size``, ``gamma``, ``warmup`` (intervals);
  Poseidon's parameter groups (see :mod:`opjax.training.optimizers`):
  ``lr_embedding_recovery`` and ``lr_time_conditioning`` (0: ``lr``), and
  ``decay_norms_and_biases`` (false: no weight decay on norms and biases);
* ``[finetune]``: ``checkpoint`` (start from these weights: a run directory, e.g. one
  written by ``opjax convert poseidon``, or a Poseidon checkpoint folder as downloaded;
  the model and its hyperparameters come from it, ``model.hparams`` may override some),
  ``replace_embedding_recovery`` (``"auto"``: new input embedding and output recovery
  when the data's channel counts differ from the checkpoint's; ``"always"``; ``"never"``),
  see :mod:`opjax.training.finetune`;
* ``[reduced_order]`` (``train.objective = "phirom"`` or ``"latent_ode"``): Phi-ROM's
  ``loss_lambda`` (the weight of ``L_rec``), ``gamma`` (the share of points ``J^+ f`` is
  solved on), ``warmup_epochs`` (``L_dyn`` trains only the dynamics network before),
  ``observed_fraction`` (sparse data: the share of each snapshot's points ``L_rec`` sees,
  see :mod:`opjax.training.reduced_order`); the baseline's teacher forcing,
  ``teacher_forcing`` (the probability at the start), ``teacher_forcing_decay`` and
  ``teacher_forcing_every`` (epochs; see :mod:`opjax.training.latent_ode_baseline`); and the
  evaluation's fit of the initial latent: ``inversion_steps``, ``inversion_lr`` (Adam) and
  ``inversion_fraction`` (the share of the initial state's points it sees);
* ``[rollout_training]`` (``train.objective`` = ``"unrolled"``, ``"diverted_chain"``,
  ``"correction"``, ``"residual"`` or ``"composite"``, see
  :mod:`opjax.workflows.rollout_training`): ``steps`` (the model's rollout ``T``),
  ``cut_every`` (a stop-gradient every so many steps; 0: none), ``weights`` (per level;
  empty: ones), ``post_solver_steps`` (solver steps after the model's, compared with the
  data), the diverted chain's ``branch_steps``, ``branch_weights`` and
  ``cut_solver_gradient``, the correction's ``correction_mode`` (``"parallel"``,
  ``"sequential"``, ``"sequential_with_bypass"``), ``coarse_substeps`` (0: the data's own
  count) and ``coarse_proportion`` (the share of the model step the coarse solver
  advances), and the composite's ``objectives`` (name -> weight). ``data.on_the_fly``
  draws the training trajectories from ``data.generate``'s generator inside the train
  step instead of reading a file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from opjax.models.correction import CORRECTION_MODES
from opjax.recipe_tables import (
    ABOVE_ZERO,
    FRACTION,
    NON_NEGATIVE,
    POSITIVE,
    SEED,
    SHARE,
    UNIT_INTERVAL,
    RecipeError,
    RecipeSchema,
    dump_toml,
    parse_override,
)

DEFAULTS: dict[str, Any] = {
    "name": "",
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
        "window": {
            "field": "",
            "pairs": "k_in_m_out",
            "k": 1,
            "m": 1,
            "stride": 1,
            "time_step": 1,
            "all_offsets": False,
            "params": [],
            "max_states": 0,
            "time_scale": 0.0,
        },
        "on_the_fly": False,
    },
    "train": {
        "epochs": 20,
        "batch_size": 32,
        "eval_batch_size": 32,
        "loss": "h1",
        "channel_groups": [],
        "h1_periodic": True,
        "shuffle": True,
        "eval_every": 1,
        "checkpoint_every": 1,
        "objective": "one_step",
        "ema_decay": 0.0,
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
        "lr_embedding_recovery": 0.0,
        "lr_time_conditioning": 0.0,
        "decay_norms_and_biases": True,
    },
    "finetune": {"checkpoint": "", "replace_embedding_recovery": "auto"},
    "reduced_order": {
        "loss_lambda": 0.5,
        "gamma": 0.1,
        "warmup_epochs": 0,
        "observed_fraction": 1.0,
        "teacher_forcing": 0.99,
        "teacher_forcing_decay": 0.99,
        "teacher_forcing_every": 20,
        "inversion_steps": 300,
        "inversion_lr": 0.1,
        "inversion_fraction": 1.0,
    },
    "rollout_training": {
        "steps": 4,
        "cut_every": 0,
        "weights": [],
        "branch_steps": 1,
        "branch_weights": [],
        "cut_solver_gradient": False,
        "post_solver_steps": 0,
        "correction_mode": "parallel",
        "coarse_substeps": 0,
        "coarse_proportion": 1.0,
        "objectives": {},
    },
}

SCHEMA = RecipeSchema(
    defaults=DEFAULTS,
    free_tables=frozenset(
        {("model", "hparams"), ("data", "test"), ("rollout_training", "objectives")}
    ),
    path_keys=frozenset(
        {("data", "train"), ("data", "generate"), ("run_dir",), ("finetune", "checkpoint")}
    ),
    path_tables=frozenset({("data", "test")}),
    choices={
        ("train", "loss"): ("l2", "h1", "relative_l1", "mse"),
        ("train", "objective"): (
            "one_step",
            "refinement",
            "phirom",
            "latent_ode",
            "unrolled",
            "diverted_chain",
            "correction",
            "residual",
            "composite",
        ),
        ("rollout_training", "correction_mode"): CORRECTION_MODES,
        ("data", "window", "pairs"): ("k_in_m_out", "all2all", "trajectories"),
        ("optimizer", "schedule"): ("constant", "cosine", "step"),
        ("optimizer", "schedule_interval"): ("epoch", "step"),
        ("finetune", "replace_embedding_recovery"): ("auto", "always", "never"),
    },
    ranges={
        ("seed",): SEED,
        **{("train", key): POSITIVE for key in ("epochs", "batch_size", "eval_batch_size")},
        **{("train", key): POSITIVE for key in ("eval_every", "checkpoint_every")},
        ("train", "channel_groups"): NON_NEGATIVE,
        ("train", "ema_decay"): FRACTION,
        ("data", "n_train"): NON_NEGATIVE,
        ("data", "n_test"): NON_NEGATIVE,
        **{("data", "window", key): POSITIVE for key in ("k", "m", "stride", "time_step")},
        ("data", "window", "max_states"): NON_NEGATIVE,
        ("data", "window", "time_scale"): NON_NEGATIVE,
        # lr = 0 freezes the weights (a fine-tuning check that the trunk is carried over).
        ("optimizer", "lr"): NON_NEGATIVE,
        ("optimizer", "eps"): ABOVE_ZERO,
        ("optimizer", "gamma"): ABOVE_ZERO,
        ("optimizer", "b1"): FRACTION,
        ("optimizer", "b2"): FRACTION,
        ("optimizer", "step_size"): POSITIVE,
        **{("reduced_order", key): UNIT_INTERVAL for key in ("loss_lambda", "teacher_forcing")},
        **{
            ("reduced_order", key): SHARE
            for key in ("gamma", "observed_fraction", "inversion_fraction", "teacher_forcing_decay")
        },
        ("reduced_order", "teacher_forcing_every"): POSITIVE,
        ("reduced_order", "warmup_epochs"): NON_NEGATIVE,
        ("reduced_order", "inversion_steps"): POSITIVE,
        ("reduced_order", "inversion_lr"): ABOVE_ZERO,
        **{("rollout_training", key): POSITIVE for key in ("steps", "branch_steps")},
        **{
            ("rollout_training", key): NON_NEGATIVE
            for key in ("cut_every", "post_solver_steps", "coarse_substeps")
        },
        **{("rollout_training", key): NON_NEGATIVE for key in ("weights", "branch_weights")},
        ("rollout_training", "coarse_proportion"): SHARE,
        **{
            ("optimizer", key): NON_NEGATIVE
            for key in (
                "weight_decay",
                "grad_clip",
                "cosine_t_max",
                "warmup",
                "lr_embedding_recovery",
                "lr_time_conditioning",
            )
        },
    },
)


def load_recipe(path: str | os.PathLike | None = None, overrides: list[str] = ()) -> dict:
    """Defaults, updated by the recipe file (if any), then by ``key=value`` overrides."""
    recipe = SCHEMA.load(path, overrides)
    if not recipe["name"]:
        recipe["name"] = Path(path).stem if path is not None else "default"
    check_recipe(recipe)
    return recipe


def selection_key(recipe: dict) -> str:
    """The ``metrics.jsonl`` key ``best`` is chosen by: ``"test/<first test set>/<metric>"``,
    the metric being the training loss, or the relative L2 for ``"mse"`` (which the
    evaluation does not report) and for the reduced-order objectives (in-horizon)."""
    loss = recipe["train"]["loss"]
    if loss == "mse" or recipe["train"]["objective"] in ("phirom", "latent_ode"):
        loss = "l2"
    return f"test/{next(iter(recipe['data']['test']))}/{loss}"


def check_recipe(recipe: dict) -> None:
    """Check the ranges of a recipe's numbers (again, for a recipe built in code rather than
    read by :func:`load_recipe`) and what one key cannot: keys that must agree.

    Raises:
        RecipeError: naming the key.
    """
    for path in SCHEMA.ranges:
        table = recipe
        for key in path[:-1]:
            table = table[key]
        SCHEMA.check_range(path, table[path[-1]])
    data = recipe["data"]
    if not data["generate"]:
        if not data["train"]:
            raise RecipeError("data.train is empty: name a training file, or data.generate")
        if not data["test"]:
            raise RecipeError(
                "data.test is empty: name at least one test file, e.g. "
                '[data.test] "16" = "test_16.pt"'
            )
    for name, path in data["test"].items():
        if not isinstance(path, str) or not path:
            raise RecipeError(f"data.test.{name} must be a file path, got {path!r}")
    groups = recipe["train"]["channel_groups"]
    if groups and (groups[0] != 0 or any(b <= a for a, b in zip(groups, groups[1:]))):
        raise RecipeError(
            f"train.channel_groups = {groups}: expected increasing boundaries from 0, "
            "e.g. [0, 1, 3, 4]"
        )
    rollout = ("unrolled", "diverted_chain", "correction", "residual", "composite")
    if data["on_the_fly"] and recipe["train"]["objective"] not in rollout:
        raise RecipeError(
            f"data.on_the_fly draws batches inside the objective; train.objective = "
            f"{recipe['train']['objective']!r} reads stored samples (use one of {list(rollout)}; "
            "'unrolled' with rollout_training.steps = 1 is one-step training)"
        )
    if not isinstance(recipe["model"]["hparams"], dict):
        raise RecipeError("model.hparams must be a table")


__all__ = [
    "DEFAULTS",
    "SCHEMA",
    "RecipeError",
    "check_recipe",
    "dump_toml",
    "load_recipe",
    "parse_override",
    "selection_key",
]
