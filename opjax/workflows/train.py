"""``train(recipe)``: a run directory from a training recipe.

``train(recipe)`` prepares the data (generating it first when ``data.generate`` names a
dataset recipe), builds the model (from the recipe, or from the pretrained weights that
``[finetune] checkpoint`` names), writes ``config.toml`` and ``model.json``, and trains
with :func:`opjax.training.loop.fit`, evaluating on each test set. ``train(recipe,
resume=True)`` continues from the latest complete checkpoint and ends exactly where the
uninterrupted run would (see :mod:`opjax.training.loop`).

A mesh model (SPON, SPON-MG) is bound to the training file's mesh and evaluated in the
finite-element norms on each test file's own mesh (:mod:`opjax.workflows.mesh_runs`).

With ``train.ema_decay = d > 0`` the run keeps an exponential moving average of the
weights (:mod:`opjax.training.step`); it is what evaluation, the ``best`` selection,
:class:`TrainResult` and ``opjax.load`` use (the model card's ``weights`` says so).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path

import jax
from tqdm.auto import tqdm

from opjax.data.normalizers import Normalizers
from opjax.data.sample import CONDITIONING_KEYWORDS
from opjax.data.splits import Splits, generate_data, load_splits
from opjax.evaluation.divergence import divergence_warning, summary_value
from opjax.evaluation.evaluate import make_error_fn, per_sample_errors, summarize
from opjax.models.on_mesh import mesh_levels
from opjax.models.registry import build_model, hparam_names, model_hparams
from opjax.recipe_tables import RecipeError, dump_toml
from opjax.runs.checkpoints import RunCheckpoints
from opjax.runs.directory import (
    CHECKPOINTS,
    CONFIG,
    MODEL_CARD,
    atomic_write,
    claim_run_directory,
    read_metrics,
    truncate_metrics,
)
from opjax.runs.model_card import (
    DataSpec,
    EvaluationSpec,
    ModelCard,
    TrainingSpec,
    read_model_card,
    write_model_card,
)
from opjax.runs.run_mesh import write_run_mesh
from opjax.runs.solver_spec import CorrectionSpec
from opjax.sharding import batch_sharding, check_batch_size, data_mesh, replicated
from opjax.training.finetune import finetune_hparams, merge_pretrained
from opjax.training.loop import LoopSettings, fit
from opjax.training.objectives import one_step_objective, refinement_objective, training_loss
from opjax.training.optimizers import learning_rate_schedule, make_optimizer
from opjax.training.recipe import check_recipe, selection_key
from opjax.training.state import init_train_state, init_variables, variable_shapes
from opjax.training.step import evaluated_weights, make_train_step
from opjax.version import __version__
from opjax.workflows.mesh_runs import check_mesh_recipe, mesh_evaluator, training_mesh
from opjax.workflows.pretrained import load_pretrained
from opjax.workflows.reduced_order import (
    REDUCED_ORDER_OBJECTIVES,
    TrajectoryData,
    reduced_order_evaluator,
    reduced_order_hparams,
    reduced_order_objective,
    reduced_order_training_data,
    trajectory_data,
)
from opjax.workflows.rollout_training import (
    ROLLOUT_OBJECTIVES,
    check_rollout_recipe,
    correction_spec,
    rollout_data,
    rollout_objective,
)

log = logging.getLogger("opjax.train")


@dataclasses.dataclass
class TrainResult:
    """What a finished :func:`train` returns: the run directory, the number of epochs,
    the last evaluation ``{test set: {metric: value}}`` and the evaluated variables."""

    run_dir: str
    epochs_done: int
    final_metrics: dict[str, dict[str, float]]
    params: dict


def train(recipe: dict, *, resume: bool = False, progress: bool = False) -> TrainResult:
    """Train the model a resolved recipe describes; see the module docstring.

    The run directory is claimed first (:func:`opjax.runs.directory.claim_run_directory`:
    ``recipe["run_dir"]``, or the first free ``runs/<name>-N``, which ``recipe["run_dir"]``
    then names) and held until training ends. A run that fails before its first
    checkpoint leaves nothing behind, so the same command can be run again.

    Raises:
        RecipeError: the recipe's keys disagree with each other or with the data.
        InUseError: another process is training in the run directory.
        NonFiniteLossError: the loss became NaN or infinite.
    """
    check_recipe(recipe)
    tcfg = recipe["train"]
    mesh = data_mesh()
    check_batch_size(tcfg["batch_size"], mesh)
    check_batch_size(tcfg["eval_batch_size"], mesh, "train.eval_batch_size")
    claim = claim_run_directory(recipe["run_dir"], recipe["name"], resume=resume)
    recipe["run_dir"] = str(claim.path)
    try:
        return _train_in(claim.path, recipe, mesh, resume=resume, progress=progress)
    except BaseException:
        if not resume and not claim.has_checkpoint():
            claim.discard()
        raise
    finally:
        claim.release()


def _train_in(run_path: Path, recipe: dict, mesh, *, resume: bool, progress: bool):
    tcfg = recipe["train"]
    rollout = tcfg["objective"] in ROLLOUT_OBJECTIVES
    if rollout:
        check_rollout_recipe(recipe)
    generate_data(recipe["data"], progress=progress)
    trajectories = rolled = None
    if rollout:
        rolled = rollout_data(recipe, tcfg["batch_size"])
        splits = rolled.splits
    else:
        splits = load_splits(recipe["data"])
    if tcfg["objective"] in REDUCED_ORDER_OBJECTIVES:
        trajectories = trajectory_data(recipe["data"], splits, tcfg["objective"])
    if resume and (run_path / MODEL_CARD).exists():
        normalizers = read_model_card(run_path).normalizers
    else:  # a reduced-order model normalises itself (its field_mean and field_std)
        normalizers = Normalizers.fit(
            splits.train,
            x=recipe["data"]["normalize_x"] and trajectories is None,
            y=recipe["data"]["normalize_y"] and trajectories is None,
        )
    network, pretrained, replace = _model(recipe, splits, trajectories)
    correction = correction_spec(recipe, rolled.solver) if rolled else None
    model = network if correction is None else correction.model(network)
    run_mesh = mesh_spec = None
    if mesh_levels(network):
        check_mesh_recipe(recipe, network)
        model, run_mesh, mesh_spec = training_mesh(recipe, network)
    if rolled is not None:
        training_data = rolled.training
    elif trajectories is not None:
        training_data = reduced_order_training_data(splits.train)
    else:
        training_data = _training_data(splits, normalizers)
    n_train = len(jax.tree.leaves(training_data)[0])
    steps_per_epoch = math.ceil(n_train / tcfg["batch_size"])
    groups = tuple(tcfg["channel_groups"])
    loss = training_loss(tcfg["loss"], tcfg["h1_periodic"], groups or None)
    if rolled is not None:
        objective = rollout_objective(recipe, model, loss, normalizers, rolled, mesh)
    elif trajectories is None:
        objective = _objective(tcfg, model, loss)
    else:
        objective = reduced_order_objective(recipe, model, trajectories, steps_per_epoch)
    schedule = learning_rate_schedule(recipe["optimizer"], steps_per_epoch, tcfg["epochs"])
    optimizer = make_optimizer(recipe["optimizer"], schedule)
    init_key, step_key = jax.random.split(jax.random.PRNGKey(recipe["seed"]))
    if pretrained is None:
        variables = init_variables(model, init_key, splits.train)
    else:
        known = merge_pretrained(
            variable_shapes(model, splits.train),
            pretrained.variables,
            replace=replace,
            source=pretrained.source,
        )
        variables = init_variables(model, init_key, splits.train, known)
        new = " (new embedding and recovery)" if replace else ""
        log.info("starting from %s%s", pretrained.source, new)

    # The recipe, data, model, objective and weights fit together: write the run directory.
    atomic_write(run_path / CONFIG, dump_toml(recipe))
    if run_mesh is not None:
        write_run_mesh(run_path, run_mesh)
    card = _model_card(recipe, network, normalizers, splits, correction)
    write_model_card(run_path, dataclasses.replace(card, mesh=mesh_spec))

    state = init_train_state(variables, optimizer, mesh, ema=bool(tcfg["ema_decay"]))
    settings = _loop_settings(recipe, schedule)
    if run_mesh is not None:
        evaluate = mesh_evaluator(network, normalizers, recipe, splits, batch_sharding(mesh))
    elif trajectories is None:
        evaluate = _evaluator(model, normalizers, recipe, splits, mesh)
    else:
        evaluate = reduced_order_evaluator(model, recipe, splits, trajectories)
    checkpoints = RunCheckpoints(str(run_path / CHECKPOINTS))
    try:
        start_epoch, best = 0, None
        if resume:
            state, start_epoch, best = _resumed(run_path, checkpoints, state, evaluate, settings)
        train_step = make_train_step(objective, optimizer, step_key, mesh, tcfg["ema_decay"])
        bar = None
        if progress:
            bar = tqdm(
                total=tcfg["epochs"] * n_train,
                initial=start_epoch * n_train,
                unit="sample",
                unit_scale=True,
                dynamic_ncols=True,
            )
        try:
            state, last_eval = fit(
                train_step,
                state,
                jax.device_put(training_data, replicated(mesh)),
                settings,
                evaluate=evaluate,
                checkpoints=checkpoints,
                run_dir=run_path,
                start_epoch=start_epoch,
                best=best,
                bar=bar,
            )
        finally:
            if bar is not None:
                bar.close()
    finally:
        checkpoints.close()
    warning = divergence_warning(read_metrics(run_path), settings.selection)
    if warning:
        log.warning("%s: %s", run_path, warning)
    weights = jax.device_get(evaluated_weights(state))
    return TrainResult(str(run_path), tcfg["epochs"], last_eval, weights)


def _resumed(run_path: Path, checkpoints: RunCheckpoints, state, evaluate, settings):
    """``(state, start_epoch, best)`` of an interrupted run: the newest intact ``latest``
    checkpoint, with ``metrics.jsonl`` repaired to its epoch and ``best`` made to agree
    with it (:func:`_repaired_best`)."""
    if checkpoints.latest_step() is None:
        truncate_metrics(run_path, -1)
        log.info("no complete checkpoint in %s; starting from the beginning", run_path)
        return state, 0, None
    state, meta = checkpoints.restore("latest", state)
    truncate_metrics(run_path, meta["epoch"])
    log.info("resuming %s after epoch %d (step %d)", run_path, meta["epoch"], meta["step"])
    best = _repaired_best(checkpoints, state, meta, evaluate, settings)
    return state, meta["epoch"] + 1, best


def _repaired_best(checkpoints: RunCheckpoints, state, meta: dict, evaluate, settings) -> dict:
    """The ``best`` record ``{"value", "epoch"}`` to continue with, after making the
    ``best`` checkpoint hold the epoch that ``latest`` records as best.

    A run killed between the two saves of an epoch, or one whose ``best`` step was lost
    or corrupt, has a ``best`` checkpoint older than the record: it is rewritten from the
    ``latest`` step of that epoch when one is kept, else from the resumed state,
    evaluated again. Either way the log says so.
    """
    best = meta["best"]
    found = checkpoints.restore_meta("best")
    if best["epoch"] < 0 or (found is not None and found["epoch"] == best["epoch"]):
        return best
    held = f"epoch {found['epoch']}" if found else "no intact step"
    for step in checkpoints.intact_steps("latest"):
        old_state, old_meta = checkpoints.restore("latest", state, step)
        if old_meta["epoch"] == best["epoch"]:
            checkpoints.save("best", step, old_state, {**old_meta, "best": best})
            log.warning(
                "best checkpoint held %s, but the best epoch is %d: rewrote it from latest step %d",
                held,
                best["epoch"],
                step,
            )
            return best
    value = summary_value(evaluate(evaluated_weights(state)), settings.selection)
    best = {"value": value, "epoch": meta["epoch"]}
    checkpoints.save("best", meta["step"], state, {**meta, "best": best})
    log.warning(
        "best checkpoint held %s, and the weights of the best epoch %d are gone: best is "
        "now the resumed epoch %d (%s %.4g, evaluated again)",
        held,
        meta["best"]["epoch"],
        meta["epoch"],
        settings.selection,
        value,
    )
    return best


def _model(recipe: dict, splits: Splits, trajectories: TrajectoryData | None):
    """``(model, pretrained, replace)``: the model the recipe (or its ``[finetune]
    checkpoint``) describes, with the data's channel counts (and a reduced-order model's
    other data-dependent hyperparameters); the pretrained weights (or None) and whether
    their embedding and recovery are replaced."""
    in_channels, out_channels = splits.train["x"].shape[-1], splits.train["y"].shape[-1]
    if not recipe["finetune"]["checkpoint"]:
        name = recipe["model"]["name"]
        hparams = dict(recipe["model"]["hparams"])
        if trajectories is not None and name == "phirom":
            normalize = recipe["data"]["normalize_y"]
            reduced_order_hparams(hparams, splits.train, trajectories.grid, normalize)
        for key, found in (("in_channels", in_channels), ("out_channels", out_channels)):
            if key not in hparam_names(name):
                continue
            given = hparams.setdefault(key, found)
            if given != found:
                raise RecipeError(
                    f"model.hparams.{key} = {given}, but the data has {found} "
                    f"{'input' if key == 'in_channels' else 'output'} channels"
                )
        return build_model(name, hparams), None, False
    pretrained = load_pretrained(recipe["finetune"]["checkpoint"])
    recipe["model"]["name"] = pretrained.model
    hparams, replace = finetune_hparams(
        pretrained,
        recipe["model"]["hparams"],
        in_channels,
        out_channels,
        recipe["finetune"]["replace_embedding_recovery"],
    )
    return build_model(pretrained.model, hparams), pretrained, replace


def _model_card(
    recipe: dict,
    network,
    normalizers: Normalizers,
    splits: Splits,
    correction: CorrectionSpec | None,
) -> ModelCard:
    """The run's card; the sample shapes are one window's, with one next state ``y``."""
    data, tcfg = recipe["data"], recipe["train"]
    groups = tuple(tcfg["channel_groups"])
    shapes = {k: tuple(v.shape[1:]) for k, v in splits.train.items()}
    if len(shapes["y"]) > len(shapes["x"]):  # a rollout's levels
        shapes["y"] = shapes["y"][1:]
    return ModelCard(
        model=recipe["model"]["name"],
        hparams=model_hparams(network),
        normalizers=normalizers,
        sample_shapes=shapes,
        weights="ema" if tcfg["ema_decay"] else "params",
        evaluation=EvaluationSpec(
            h1_periodic=tcfg["h1_periodic"],
            channel_groups=groups if tcfg["loss"] == "relative_l1" else None,
        ),
        data=DataSpec(
            format=data["format"],
            x_key=data["x_key"],
            y_key=data["y_key"],
            window=data["window"],
            tests={name: tuple(s["x"].shape[1:-1]) for name, s in splits.tests.items()},
        ),
        training=TrainingSpec(
            loss=tcfg["loss"],
            objective=tcfg["objective"],
            ema_decay=tcfg["ema_decay"],
            finetuned_from=recipe["finetune"]["checkpoint"] or None,
            correction=None if correction is None else correction.to_dict(),
        ),
        source=None,
        opjax_version=__version__,
    )


def _objective(tcfg: dict, model, loss):
    if tcfg["objective"] == "one_step":
        return one_step_objective(model, loss)
    if tcfg["loss"] != "mse":
        raise RecipeError(
            f"train.objective = 'refinement' trains with PDE-Refiner's MSE at every step; "
            f"set train.loss = 'mse' (got {tcfg['loss']!r})"
        )
    try:
        return refinement_objective(model)
    except TypeError as error:
        raise RecipeError(f"train.objective = 'refinement': {error}") from None


def _training_data(splits: Splits, normalizers: Normalizers) -> dict:
    """The training Sample, normalised (it lives on the devices, whole)."""
    train = splits.train
    data = {"x": normalizers.encode_input(train["x"]), "y": normalizers.encode_target(train["y"])}
    data.update({key: train[key] for key in CONDITIONING_KEYWORDS if key in train})
    return data


def _loop_settings(recipe: dict, schedule) -> LoopSettings:
    """The recipe's loop schedule; ``best`` is chosen by :func:`selection_key`."""
    tcfg = recipe["train"]
    reduced_order = tcfg["objective"] in REDUCED_ORDER_OBJECTIVES
    return LoopSettings(
        epochs=tcfg["epochs"],
        batch_size=tcfg["batch_size"],
        shuffle=tcfg["shuffle"],
        eval_every=tcfg["eval_every"],
        checkpoint_every=tcfg["checkpoint_every"],
        seed=recipe["seed"],
        loss=tcfg["objective"] if reduced_order else tcfg["loss"],
        selection=selection_key(recipe),
        learning_rate=schedule,
    )


def _evaluator(model, normalizers: Normalizers, recipe: dict, splits: Splits, mesh):
    """``variables -> {test set: summary}``: each test set's errors, as the report gives."""
    tcfg = recipe["train"]
    groups = tuple(tcfg["channel_groups"])
    error_fn = make_error_fn(
        model, normalizers, tcfg["h1_periodic"], groups if tcfg["loss"] == "relative_l1" else None
    )
    sharding = batch_sharding(mesh)

    def evaluate(variables: dict) -> dict:
        return {
            name: summarize(
                per_sample_errors(error_fn, variables, test, tcfg["eval_batch_size"], sharding)[0]
            )
            for name, test in splits.tests.items()
        }

    return evaluate
