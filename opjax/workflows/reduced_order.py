"""What ``opjax train`` does differently for a reduced-order model: ``train.objective =
"phirom"`` (Phi-ROM's physics-informed objective) or ``"latent_ode"`` (the data-only
DINo-style baseline), with ``model.name = "phirom"``.

The data are whole trajectories (``data.window.pairs = "trajectories"``): the training
split's first ``data.window.max_states`` states (0: all) of each trajectory, whose latents
the model's memory holds, and the test splits' whole trajectories. From the data come:

* the solver grid ``[*space, d]``: the file's coordinates, which must be the uniform grid
  ``linspace(low, high, n)`` per axis (the model card rebuilds it from the model's
  ``coords_low``/``coords_high`` and the sample shape);
* the saved times of the training and the test trajectories;
* the model's data-dependent hyperparameters: ``n_trajectories``, ``n_times``,
  ``coords_low``/``coords_high``, ``n_params``, ``params_mean``/``params_std`` (over the
  training trajectories, unbiased std) and, with ``data.normalize_y``, ``field_mean``/
  ``field_std`` per channel (over trajectories, times and points, unbiased std): the
  model normalises itself, so the run's own normalisers are the identity;
* for ``"phirom"``, the solver's time derivative of a state: the equation of the problem
  that generated the file (an opjax dataset; :func:`~opjax.data.generation.recorded_problem`),
  whose parameters ``data.window.params`` must name, in the problem's order.

The ``[reduced_order]`` recipe table has the objectives' settings (see
:mod:`opjax.training.recipe`). Evaluation fits each test trajectory's initial latent,
integrates and decodes (:mod:`opjax.evaluation.trajectory_evaluation`); ``best`` is chosen
by the in-horizon relative L2.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

from opjax.data.formats import open_dataset
from opjax.data.generation import recorded_problem
from opjax.data.sample import Sample
from opjax.data.splits import Splits
from opjax.evaluation.trajectory_evaluation import evaluate_trajectories
from opjax.models.phirom import PhiROM
from opjax.recipe_tables import RecipeError
from opjax.runs.reduced_order_inference import uniform_grid
from opjax.solvers.stepper import check_state_map
from opjax.training.latent_ode_baseline import latent_ode_objective
from opjax.training.objectives import Objective
from opjax.training.reduced_order import FieldRate, physics_informed_objective

REDUCED_ORDER_OBJECTIVES = ("phirom", "latent_ode")


@dataclasses.dataclass(frozen=True)
class TrajectoryData:
    """What a reduced-order run needs besides the samples.

    Attributes:
        grid: the solver grid ``[*space, d]``.
        train_times: the saved times of the training trajectories ``[H]``.
        test_times: test set -> its saved times ``[T]``.
        field_rate: the solver's ``(u [*space, C], mu [p] or None) -> du/dt``, or None
            (the file records no problem with a solver).
    """

    grid: np.ndarray
    train_times: np.ndarray
    test_times: dict[str, np.ndarray]
    field_rate: FieldRate | None


def trajectory_data(data_cfg: dict, splits: Splits, objective: str) -> TrajectoryData:
    """Read the grid, times and solver of a reduced-order run's data (module docstring).

    Raises:
        RecipeError: the data are not whole trajectories on a uniform grid, the test files'
            grids differ from the training file's, or (``"phirom"``) the file has no solver,
            its solver's grid differs from the data's or its parameters are not given.
    """
    window = data_cfg["window"]
    if window["pairs"] != "trajectories" or not window["field"]:
        raise RecipeError(
            f"train.objective = {objective!r} trains on whole trajectories: set "
            'data.window.field and data.window.pairs = "trajectories"'
        )
    space = splits.train["x"].shape[1:-1]
    with open_dataset(data_cfg["train"], data_cfg["format"]) as file:
        grid = _grid(file.coordinates, space, data_cfg["train"])
        train_times = _times(file.times, window["time_step"], data_cfg["train"])
        attrs = dict(file.attrs)
    train_times = train_times[: splits.train["y"].shape[1]]
    test_times = {}
    for name, path in data_cfg["test"].items():
        with open_dataset(path, data_cfg["format"]) as file:
            if not np.allclose(_grid(file.coordinates, space, path), grid):
                raise RecipeError(f"test set {name!r} ({path}) is on another grid than data.train")
            test_times[name] = _times(file.times, window["time_step"], path)
    field_rate = None
    if objective == "phirom":
        field_rate = _field_rate(attrs, data_cfg, splits.train, grid.shape[:-1])
    return TrajectoryData(grid, train_times, test_times, field_rate)


def _grid(coordinates: dict, space: tuple, path: str) -> np.ndarray:
    axes = [np.asarray(c, np.float64) for c in coordinates.values()]
    if tuple(len(a) for a in axes) != tuple(space):
        raise RecipeError(
            f"{path}: the coordinates {[len(a) for a in axes]} do not match the field's grid "
            f"{list(space)}; a reduced-order model needs the solver grid's coordinates"
        )
    grid = uniform_grid([a[0] for a in axes], [a[-1] for a in axes], space)
    if not all(np.allclose(a, np.linspace(a[0], a[-1], len(a))) for a in axes):
        raise RecipeError(f"{path}: the grid is not uniform (both ends included) on every axis")
    return grid


def _times(times, time_step: int, path: str) -> np.ndarray:
    if times is None:
        raise RecipeError(f"{path}: the file stores no saved times")
    return np.asarray(times, np.float64)[::time_step]


def _field_rate(attrs: dict, data_cfg: dict, train: Sample, space: tuple) -> FieldRate:
    problem = recorded_problem(attrs, data_cfg["train"])
    if problem.field_rate is None:
        raise RecipeError(
            f"train.objective = 'phirom' needs the data's solver, and the problem "
            f"{attrs['problem']!r} of {data_cfg['train']} has no field_rate"
        )
    given = tuple(data_cfg["window"]["params"])
    try:
        problem.check_rate_params(given, attrs["problem"])
    except ValueError as err:
        raise RecipeError(str(err)) from None
    state = jnp.zeros((*space, train["y"].shape[-1]))
    params = jnp.zeros(len(given)) if given else None
    try:
        check_state_map(problem.field_rate, state, params)
    except ValueError as err:
        raise RecipeError(
            f"decoder/solver grid mismatch: the solver of {attrs['problem']!r} on the decoded "
            f"field (grid {list(space)}): {err}"
        ) from None
    return problem.field_rate


def reduced_order_hparams(hparams: dict, train: Sample, grid: np.ndarray, normalize: bool) -> dict:
    """``hparams`` with the data-dependent PhiROM hyperparameters filled in (module
    docstring); a structural one given that disagrees with the data is an error.

    Raises:
        RecipeError: naming the hyperparameter.
    """
    y = np.asarray(train["y"], np.float64)
    d = grid.shape[-1]
    flat_grid = grid.reshape(-1, d)
    found = {
        "n_trajectories": y.shape[0],
        "n_times": y.shape[1],
        "n_params": train["params"].shape[-1] if "params" in train else 0,
    }
    for key, value in found.items():
        given = hparams.setdefault(key, value)
        if given != value:
            raise RecipeError(f"model.hparams.{key} = {given}, but the data has {value}")
    hparams.setdefault("coords_low", flat_grid.min(axis=0).tolist())
    hparams.setdefault("coords_high", flat_grid.max(axis=0).tolist())
    if "params" in train:
        params = np.asarray(train["params"], np.float64)
        hparams.setdefault("params_mean", params.mean(axis=0).tolist())
        hparams.setdefault("params_std", _std(params.reshape(-1, params.shape[-1])))
    if normalize:
        channels = y.reshape(-1, y.shape[-1])
        hparams.setdefault("field_mean", channels.mean(axis=0).tolist())
        hparams.setdefault("field_std", _std(channels))
    return hparams


def _std(values: np.ndarray) -> list[float]:
    """The unbiased std per column (1 where it is 0 or undefined)."""
    std = values.std(axis=0, ddof=1) if len(values) > 1 else np.ones(values.shape[-1])
    return np.where(std > 0, std, 1.0).tolist()


def reduced_order_objective(
    recipe: dict, model: PhiROM, data: TrajectoryData, steps_per_epoch: int
) -> Objective:
    """The objective ``train.objective`` names, with the ``[reduced_order]`` settings."""
    if not isinstance(model, PhiROM):
        raise RecipeError(
            f"train.objective = {recipe['train']['objective']!r} trains a reduced-order model "
            f"(model.name = 'phirom'); got {type(model).__name__}"
        )
    settings = recipe["reduced_order"]
    coords = jnp.asarray(data.grid, jnp.float32)
    try:
        if recipe["train"]["objective"] == "phirom":
            return physics_informed_objective(
                model,
                coords,
                data.field_rate,
                loss_lambda=settings["loss_lambda"],
                gamma=settings["gamma"],
                warmup_steps=settings["warmup_epochs"] * steps_per_epoch,
                observed_fraction=settings["observed_fraction"],
            )
        return latent_ode_objective(
            model,
            coords,
            jnp.asarray(data.train_times, jnp.float32),
            steps_per_epoch,
            teacher_forcing=settings["teacher_forcing"],
            teacher_forcing_decay=settings["teacher_forcing_decay"],
            teacher_forcing_every=settings["teacher_forcing_every"],
        )
    except ValueError as err:
        raise RecipeError(f"[reduced_order]: {err}") from None


def reduced_order_training_data(train: Sample) -> dict:
    """The training Sample with each trajectory's row of the latent memory, ``index``."""
    data = {key: train[key] for key in ("x", "y", "params") if key in train}
    data["index"] = np.arange(len(train["y"]), dtype=np.int32)
    return data


def reduced_order_evaluator(model: PhiROM, recipe: dict, splits: Splits, data: TrajectoryData):
    """``variables -> {test set: {"l2", "l2_extrapolation"}}`` (the second for test
    trajectories longer than the training ones)."""
    settings = recipe["reduced_order"]
    horizon = splits.train["y"].shape[1]

    def evaluate(variables: dict) -> dict:
        return {
            name: evaluate_trajectories(
                model,
                variables,
                test,
                data.grid,
                data.test_times[name],
                horizon,
                settings,
                recipe["train"]["eval_batch_size"],
            )[2]
            for name, test in splits.tests.items()
        }

    return evaluate
