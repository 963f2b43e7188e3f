"""What ``opjax train`` does differently for the objectives that roll the model out.

``train.objective`` is one of (:mod:`opjax.training.autoregressive`):

* ``"unrolled"``: ``rollout_training.steps = T`` model steps against the stored states,
  then ``post_solver_steps`` solver steps (trainax's ``Supervised`` and
  ``MixChainPostPhysics``); ``T = 1`` is one-step training in physical units;
* ``"diverted_chain"``: the solver branched ``branch_steps`` steps off every state of the
  model's ``T``-step rollout (``DivertedChain``);
* ``"correction"``: ``"unrolled"`` for a network that corrects a coarse solver step
  (:class:`~opjax.models.correction.CorrectedModel`, ``correction_mode``, with
  ``coarse_substeps`` solver steps over ``coarse_proportion`` of the model step);
* ``"residual"``: the equation's trapezoidal residual along the model's rollout
  (``Residuum``);
* ``"composite"``: ``sum_i w_i objective_i`` over ``rollout_training.objectives = {name =
  w_i}`` (names among the four above; with ``"correction"`` among them, every part trains
  the corrected model).

The solver is the one the training data were generated with (an opjax dataset; its
``problem`` and parameters, :class:`~opjax.runs.solver_spec.SolverSpec`), over
``data.window.time_step`` saved states. Its per-sample PDE parameters come from
``data.window.params`` when it names them (in the problem's order), or are bound when they
are the same for every training sample. The data are windows (``data.window.pairs =
"k_in_m_out"``, ``m = 1``): the training windows have as many next states as the
objective compares (``T + post_solver_steps``, else 1), the test windows one, and the
training data stay in physical units (the objective normalises).

With ``data.on_the_fly`` no training file is written: each step draws fresh trajectories
from the dataset recipe's generator and solves them inside the jitted step
(:mod:`opjax.training.on_the_fly`); an epoch is ``data.n_train`` samples (0: the recipe's
``train`` split size). Shapes and normalisers come from one batch drawn before training.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from opjax.data.errors import DataFormatError
from opjax.data.formats import open_dataset
from opjax.data.generation import PROBLEMS, load_dataset_recipe
from opjax.data.normalizers import Normalizers
from opjax.data.splits import Splits, load_splits, load_tests
from opjax.recipe_tables import RecipeError, tomllib
from opjax.runs.solver_spec import CorrectionSpec, SolverSpec
from opjax.sharding import batch_sharding
from opjax.solvers.stepper import check_state_map
from opjax.training.autoregressive import (
    composite_objective,
    diverted_chain_objective,
    residual_objective,
    trapezoidal_residual,
    unrolled_objective,
)
from opjax.training.objectives import Objective, TrainingLoss
from opjax.training.on_the_fly import Drawer, on_the_fly_objective, window_drawer

ROLLOUT_OBJECTIVES = ("unrolled", "diverted_chain", "correction", "residual", "composite")
#: The objectives ``"composite"`` sums.
COMPOSITE_PARTS = ("unrolled", "diverted_chain", "correction", "residual")


@dataclasses.dataclass(frozen=True)
class RolloutData:
    """The data and solver of a rollout-trained run.

    Attributes:
        splits: the training windows (with ``levels`` next states; on the fly, one drawn
            batch) and the test windows.
        solver: the data's solver.
        training: what the train step indexes: the training windows, or on the fly
            ``{"index": [n]}`` (one entry per sample of an epoch).
        draw: on the fly, the batch drawer; else None.
    """

    splits: Splits
    solver: SolverSpec
    training: dict
    draw: Drawer | None


def objective_parts(recipe: dict) -> dict[str, float]:
    """``{objective: weight}``: the one ``train.objective`` names, or the composite's.

    Raises:
        RecipeError: an empty or unknown composite part, or a negative weight.
    """
    objective = recipe["train"]["objective"]
    if objective != "composite":
        return {objective: 1.0}
    parts = recipe["rollout_training"]["objectives"]
    if not parts:
        raise RecipeError(
            "train.objective = 'composite' sums rollout_training.objectives = { name = weight }; "
            f"it is empty (names: {list(COMPOSITE_PARTS)})"
        )
    for name, weight in parts.items():
        if name not in COMPOSITE_PARTS:
            raise RecipeError(
                f"rollout_training.objectives.{name}: unknown objective; expected one of "
                f"{list(COMPOSITE_PARTS)}"
            )
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            raise RecipeError(
                f"rollout_training.objectives.{name} = {weight!r}: need a weight >= 0"
            )
    return {name: float(weight) for name, weight in parts.items()}


def training_levels(recipe: dict) -> int:
    """The next states a training window needs: ``T + post_solver_steps`` for the
    objectives compared with stored states, else 1."""
    settings = recipe["rollout_training"]
    supervised = {"unrolled", "correction"} & set(objective_parts(recipe))
    return settings["steps"] + settings["post_solver_steps"] if supervised else 1


def corrected(recipe: dict) -> bool:
    """Whether the trained model is the network correcting a coarse solver step."""
    return "correction" in objective_parts(recipe)


def check_rollout_recipe(recipe: dict) -> None:
    """The recipe keys a rollout objective needs agree (module docstring).

    Raises:
        RecipeError: naming the key.
    """
    data, settings = recipe["data"], recipe["rollout_training"]
    objective = recipe["train"]["objective"]
    parts = objective_parts(recipe)
    window = data["window"]
    if not window["field"] or window["pairs"] != "k_in_m_out":
        raise RecipeError(
            f"train.objective = {objective!r} rolls the model out over windows of a "
            "trajectory: set data.window.field and data.window.pairs = 'k_in_m_out'"
        )
    if window["m"] != 1:
        raise RecipeError(
            f"data.window.m = {window['m']}: with train.objective = {objective!r} the model "
            "predicts one state per step; rollout_training.steps sets how many it is "
            "compared with"
        )
    if "diverted_chain" in parts and settings["branch_steps"] > settings["steps"]:
        raise RecipeError(
            f"rollout_training.branch_steps = {settings['branch_steps']} is longer than the "
            f"model's rollout, rollout_training.steps = {settings['steps']}"
        )
    if "residual" in parts and window["k"] != 1:
        raise RecipeError(
            f"the residual objective compares consecutive single states; data.window.k = "
            f"{window['k']}"
        )
    if corrected(recipe) and (data["normalize_x"] or data["normalize_y"]):
        raise RecipeError(
            "a network correcting the solver works in the solver's units: set "
            "data.normalize_x = false and data.normalize_y = false"
        )
    if data["on_the_fly"] and not data["generate"]:
        raise RecipeError("data.on_the_fly draws from a dataset recipe: set data.generate")


def rollout_data(recipe: dict, batch_size: int) -> RolloutData:
    """Read (or, on the fly, prepare to draw) the data and find its solver.

    Raises:
        RecipeError: the trajectories are shorter than a window, the data have no solver on
            their grid, or the solver's parameters are neither given nor constant.
    """
    data_cfg = recipe["data"]
    window = data_cfg["window"]
    levels = training_levels(recipe)
    if data_cfg["on_the_fly"]:
        dataset = load_dataset_recipe(data_cfg["generate"])
        parameters = dataset["splits"]["train"]["parameters"]
        problem = PROBLEMS[dataset["problem"]].build(parameters)
        solver_params = problem.rate_params or tuple(window["params"])
        try:
            draw = window_drawer(
                problem,
                window["field"],
                batch_size,
                k=window["k"],
                levels=levels,
                time_step=window["time_step"],
                params=solver_params,
            )
        except ValueError as err:
            raise RecipeError(f"data.on_the_fly ({data_cfg['generate']}): {err}") from None
        probe_key = jax.random.fold_in(jax.random.PRNGKey(recipe["seed"]), 2**31 - 1)
        probe = jax.device_get(jax.jit(draw)(probe_key))
        bound = _bound_params(problem.rate_params, window["params"], probe.get("params"))
        probe = _with_params(probe, window["params"], solver_params)
        draw = _drawer_with_params(draw, window["params"], solver_params)
        n_samples = data_cfg["n_train"] or dataset["splits"]["train"]["n_samples"]
        solver = SolverSpec(dataset["problem"], parameters, window["time_step"], bound)
        splits = Splits(probe, load_tests(data_cfg, probe))
        training = {"index": np.arange(n_samples, dtype=np.int32)}
    else:
        try:
            splits = load_splits(data_cfg, train_levels=levels)
        except DataFormatError as err:
            raise RecipeError(
                f"{data_cfg['train']}: the objective compares {levels} next states "
                f"(rollout_training.steps + post_solver_steps): {err}"
            ) from None
        solver = _file_solver(data_cfg)
        training = dict(splits.train)
        draw = None
    _check_solver(solver, splits, recipe)
    return RolloutData(splits, solver, training, draw)


def _file_solver(data_cfg: dict) -> SolverSpec:
    """The solver of the training file's generator, with its constant parameters bound."""
    path, window = data_cfg["train"], data_cfg["window"]
    with open_dataset(path, data_cfg["format"]) as file:
        attrs = dict(file.attrs)
        if "problem" not in attrs or attrs["problem"] not in PROBLEMS:
            raise RecipeError(
                f"{path}: the solver-in-the-loss objectives need the data's solver, and this "
                "file does not say which opjax problem generated it (generate it with "
                "opjax generate)"
            )
        parameters = tomllib.loads(attrs["recipe"])["parameters"]
        problem = SolverSpec(attrs["problem"], parameters).build()
        values = None
        if problem.rate_params:
            missing = [name for name in problem.rate_params if name not in file.params]
            if missing:
                raise RecipeError(f"{path}: the solver's parameters {missing} are not in the file")
            values = np.stack(
                [
                    np.broadcast_to(np.asarray(file.params[name]), (file.n_samples,))
                    for name in problem.rate_params
                ],
                axis=-1,
            )
    bound = _bound_params(problem.rate_params, window["params"], values, path)
    return SolverSpec(attrs["problem"], parameters, window["time_step"], bound)


def _bound_params(rate_params, given, values, source: str = "the generator") -> tuple | None:
    """The solver's parameters to bind: None when ``data.window.params`` names them (each
    sample brings its own), their common value when ``values [n, p]`` are constant.

    Raises:
        RecipeError: they vary between samples and ``data.window.params`` does not name
            them in the problem's order.
    """
    if not rate_params or tuple(given) == tuple(rate_params):
        return None
    values = np.asarray(values, np.float64)
    if np.all(values == values[:1]):
        return tuple(float(v) for v in values[0])
    raise RecipeError(
        f"{source}: the solver takes the PDE parameters {list(rate_params)}, which vary "
        f"between samples; set data.window.params = {list(rate_params)} (it is {list(given)})"
    )


def _with_params(batch: dict, given, solver_params) -> dict:
    """The drawn batch with the ``params`` the recipe asks for (the drawer draws the
    solver's)."""
    batch = dict(batch)
    if tuple(given) == tuple(solver_params):
        return batch
    batch.pop("params", None)
    if given:
        raise RecipeError(
            f"data.on_the_fly: data.window.params = {list(given)} must be the solver's "
            f"parameters {list(solver_params)} or empty"
        )
    return batch


def _drawer_with_params(draw: Drawer, given, solver_params) -> Drawer:
    if tuple(given) == tuple(solver_params):
        return draw
    return lambda key: _with_params(draw(key), given, solver_params)


def _check_solver(solver: SolverSpec, splits: Splits, recipe: dict) -> None:
    """The solver steps the data's states: it exists on their grid, and its parameters
    fit the samples'."""
    try:
        step = solver.stepper()
    except ValueError as err:
        raise RecipeError(
            f"train.objective = {recipe['train']['objective']!r} needs the data's solver: the "
            f"problem {solver.problem!r}: {err}"
        ) from None
    x = splits.train["x"]
    channels = splits.train["y"].shape[-1]
    state = jnp.zeros((*x.shape[1:-1], channels), jnp.float32)
    params = splits.train.get("params")
    params = None if params is None else jnp.zeros(params.shape[1:], jnp.float32)
    try:
        check_state_map(step, state, params)
    except ValueError as err:
        raise RecipeError(
            f"solver/data grid mismatch: the solver of {solver.problem!r} on the data's "
            f"states: {err}"
        ) from None


def correction_spec(recipe: dict, solver: SolverSpec) -> CorrectionSpec | None:
    """The corrected model's spec, when the objective trains one."""
    if not corrected(recipe):
        return None
    settings = recipe["rollout_training"]
    return CorrectionSpec(
        solver,
        settings["correction_mode"],
        settings["coarse_substeps"],
        settings["coarse_proportion"],
    )


def rollout_objective(
    recipe: dict,
    model,
    loss: TrainingLoss,
    normalizers: Normalizers,
    data: RolloutData,
    mesh,
) -> Objective:
    """The objective ``train.objective`` names, with the ``[rollout_training]`` settings, on
    the (already corrected, for ``"correction"``) ``model``; on the fly, on drawn batches."""
    settings = recipe["rollout_training"]
    solver = data.solver.stepper()
    common = {"steps": settings["steps"], "cut_every": settings["cut_every"]}
    weights = settings["weights"] or None

    def part(name: str) -> Objective:
        if name in ("unrolled", "correction"):
            return unrolled_objective(
                model,
                loss,
                normalizers,
                weights=weights,
                solver=solver,
                post_solver_steps=settings["post_solver_steps"],
                **common,
            )
        if name == "diverted_chain":
            return diverted_chain_objective(
                model,
                loss,
                normalizers,
                solver,
                branch_steps=settings["branch_steps"],
                cut_solver_gradient=settings["cut_solver_gradient"],
                weights=weights,
                branch_weights=settings["branch_weights"] or None,
                **common,
            )
        residual = trapezoidal_residual(data.solver.field_rate(), data.solver.interval())
        return residual_objective(model, normalizers, residual, weights=weights, **common)

    parts = objective_parts(recipe)
    try:
        if len(parts) == 1 and recipe["train"]["objective"] != "composite":
            objective = part(next(iter(parts)))
        else:
            objective = composite_objective({name: (part(name), w) for name, w in parts.items()})
    except ValueError as err:
        raise RecipeError(f"[rollout_training]: {err}") from None
    if data.draw is None:
        return objective
    return on_the_fly_objective(objective, data.draw, batch_sharding(mesh))
