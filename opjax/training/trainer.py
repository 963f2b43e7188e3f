"""The training loop: one jitted, donated, data-parallel step; evaluation, checkpoints,
metrics and resumption.

``train(recipe)`` creates the run directory (see :mod:`opjax.training.run_dir`), trains for
``train.epochs`` epochs, evaluates every ``train.eval_every`` epochs on each test set, and
checkpoints every ``train.checkpoint_every`` epochs. ``train(recipe, resume=True)``
continues from the latest complete checkpoint: the epoch order depends only on the seed
and the epoch, and the random key of a step only on the seed and the step, so a resumed
run ends with the same parameters and metrics as one never interrupted.

The train state is ``{"params", "opt_state", "step"}`` and, with ``train.ema_decay = d > 0``,
``"ema"``: an exponential moving average of the variables, ``ema <- d ema + (1 - d) params``
after every step (state collections such as batch statistics are copied, not averaged),
started from the initial variables. It is checkpointed with the rest (so a resumed run
stays bit-exact), and it is what evaluation, the ``best`` selection,
:class:`TrainResult` and ``opjax.load`` use (the model card's ``ema_decay`` says so).
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import math
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from opjax import __version__
from opjax.data.batching import epoch_batches
from opjax.data.normalizers import Normalizers
from opjax.data.sample import CONDITIONING_KEYWORDS, conditioning
from opjax.evaluation.evaluate import make_error_fn, per_sample_errors, summarize
from opjax.host_memory import retain_freed_memory
from opjax.models.registry import build_model, hparam_names, model_hparams
from opjax.training import run_dir as rd
from opjax.training.checkpoints import RunCheckpoints
from opjax.training.datasets import fit_normalizers, generate_data, load_splits
from opjax.training.finetune import finetune_hparams, load_pretrained, merge_pretrained
from opjax.training.objectives import one_step_objective, refinement_objective, training_loss
from opjax.training.optimizers import learning_rate_schedule, make_optimizer
from opjax.training.recipe import RecipeError, dump_toml
from opjax.training.sharding import batch_sharding, check_batch_size, data_mesh, replicated

log = logging.getLogger("opjax.train")


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss; the run stopped at the named step."""


@dataclasses.dataclass
class TrainResult:
    run_dir: str
    epochs_done: int
    final_metrics: dict[str, dict[str, float]]
    params: dict


def _model_hparams(recipe: dict, in_channels: int, out_channels: int) -> dict:
    """The recipe's hparams with channel counts taken from the data, checked against it."""
    name = recipe["model"]["name"]
    hparams = dict(recipe["model"]["hparams"])
    for key, found in (("in_channels", in_channels), ("out_channels", out_channels)):
        if key not in hparam_names(name):
            continue
        given = hparams.setdefault(key, found)
        if given != found:
            raise RecipeError(
                f"model.hparams.{key} = {given}, but the data has {found} "
                f"{'input' if key == 'in_channels' else 'output'} channels"
            )
    return hparams


def model_card(recipe: dict, model, normalizers: Normalizers, splits) -> dict:
    train = splits.train
    return {
        "model": recipe["model"]["name"],
        "hparams": model_hparams(model),
        "normalizers": normalizers.to_dict(),
        "data": {
            "format": recipe["data"]["format"],
            "x_key": recipe["data"]["x_key"],
            "window": recipe["data"]["window"],
            "y_key": recipe["data"]["y_key"],
            "train_shape": {k: list(v.shape[1:]) for k, v in train.items()},
            "tests": {name: list(s["x"].shape[1:-1]) for name, s in splits.tests.items()},
        },
        "loss": recipe["train"]["loss"],
        "channel_groups": recipe["train"]["channel_groups"],
        "h1_periodic": recipe["train"]["h1_periodic"],
        "objective": recipe["train"]["objective"],
        "ema_decay": recipe["train"]["ema_decay"],
        "finetuned_from": recipe["finetune"]["checkpoint"] or None,
        "opjax_version": __version__,
    }


def _selection_key(recipe: dict, test_names) -> str:
    """The metric ``best`` is chosen by: the training loss, or the relative L2 for ``"mse"``
    (which the evaluation does not report)."""
    loss = recipe["train"]["loss"]
    return f"{next(iter(test_names))}/{'l2' if loss == 'mse' else loss}"


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


def _init_conditioning(model, train: dict) -> dict:
    """Zero conditioning inputs ``[1, ...]`` for ``model.init``, one per kind the data has.

    Raises:
        RecipeError: the data has PDE parameters but the model takes no ``z``.
    """
    inputs = {
        kw: jnp.zeros((1, *np.shape(v)[1:]), jnp.float32) for kw, v in conditioning(train).items()
    }
    if "z" in inputs and "z" not in inspect.signature(type(model).__call__).parameters:
        raise RecipeError(
            f"data.window.params gives the model PDE parameters, but {type(model).__name__} "
            "takes no z: remove data.window.params or choose a parameter-conditioned model "
            "(e.g. unet with n_condition_params)"
        )
    return inputs


def _check_ema_decay(decay: float) -> None:
    if not 0.0 <= decay < 1.0:
        raise RecipeError(f"train.ema_decay = {decay}; expected 0 (off) <= value < 1")


def train(recipe: dict, *, resume: bool = False, progress: bool = False) -> TrainResult:
    """Train the model a resolved recipe describes; see the module docstring."""
    run_path = Path(recipe["run_dir"])
    if not resume and (run_path / rd.CONFIG).exists():
        raise FileExistsError(
            f"{run_path} already holds a run; continue it with --resume {run_path} "
            "or choose another run_dir"
        )
    retain_freed_memory()
    tcfg = recipe["train"]
    _check_ema_decay(tcfg["ema_decay"])
    mesh = data_mesh()
    check_batch_size(tcfg["batch_size"], mesh)
    check_batch_size(tcfg["eval_batch_size"], mesh, "train.eval_batch_size")

    generate_data(recipe["data"], progress=progress)
    splits = load_splits(recipe["data"])
    if resume and (run_path / rd.MODEL_CARD).exists():
        normalizers = Normalizers.from_dict(rd.read_model_card(run_path)["normalizers"])
    else:
        normalizers = fit_normalizers(recipe["data"], splits.train)
    train_x, train_y = splits.train["x"], splits.train["y"]
    pretrained, replace = None, False
    if recipe["finetune"]["checkpoint"]:
        pretrained = load_pretrained(recipe["finetune"]["checkpoint"])
        recipe["model"]["name"] = pretrained.model
        hparams, replace = finetune_hparams(
            pretrained,
            recipe["model"]["hparams"],
            train_x.shape[-1],
            train_y.shape[-1],
            recipe["finetune"]["replace_embedding_recovery"],
        )
    else:
        hparams = _model_hparams(recipe, train_x.shape[-1], train_y.shape[-1])
    model = build_model(recipe["model"]["name"], hparams)

    run_path.mkdir(parents=True, exist_ok=True)
    rd.atomic_write(run_path / rd.CONFIG, dump_toml(recipe))
    rd.write_model_card(run_path, model_card(recipe, model, normalizers, splits))

    n_train = len(train_x)
    steps_per_epoch = math.ceil(n_train / tcfg["batch_size"])
    schedule = learning_rate_schedule(recipe["optimizer"], steps_per_epoch, tcfg["epochs"])
    optimizer = make_optimizer(recipe["optimizer"], schedule)
    key = jax.random.PRNGKey(recipe["seed"])
    init_key, step_key = jax.random.split(key)
    # The conditioning inputs the data carries (lead times t, PDE parameters z) are the
    # model's inputs from initialisation on.
    init_conditioning = _init_conditioning(model, splits.train)
    params = jax.jit(model.init)(
        init_key, jnp.zeros((1, *train_x.shape[1:]), train_x.dtype), **init_conditioning
    )
    if pretrained is not None:
        params = merge_pretrained(
            params, pretrained.variables, replace=replace, source=pretrained.source
        )
        log.info(
            "starting from %s%s",
            pretrained.source,
            " (new embedding and recovery)" if replace else "",
        )
    # The optimiser sees the trainable collection only (not batch-norm statistics).
    state = {"params": params, "opt_state": optimizer.init(params["params"]), "step": jnp.int32(0)}
    if tcfg["ema_decay"]:
        state["ema"] = jax.tree.map(jnp.copy, params)
    state = jax.device_put(state, replicated(mesh))

    checkpoints = RunCheckpoints(str(run_path / rd.CHECKPOINTS))
    start_epoch, best = 0, {"value": math.inf, "epoch": -1}
    if resume and checkpoints.latest_step() is not None:
        state, meta = checkpoints.restore("latest", state)
        start_epoch, best = meta["epoch"] + 1, meta["best"]
        rd.truncate_metrics(run_path, meta["epoch"])
        log.info("resuming %s after epoch %d (step %d)", run_path, meta["epoch"], meta["step"])
    elif resume:
        rd.truncate_metrics(run_path, -1)
        log.info("no complete checkpoint in %s; starting from the beginning", run_path)

    # The (normalised) training set lives on the devices, whole.
    data = {"x": normalizers.encode_input(train_x), "y": normalizers.encode_target(train_y)}
    data.update({key: splits.train[key] for key in CONDITIONING_KEYWORDS if key in splits.train})
    data = jax.device_put(data, replicated(mesh))
    channel_groups = tuple(tcfg["channel_groups"])
    loss = training_loss(tcfg["loss"], tcfg["h1_periodic"], channel_groups or None)
    objective = _objective(tcfg, model, loss)
    train_step = _make_train_step(objective, optimizer, step_key, mesh, tcfg["ema_decay"])
    error_fn = make_error_fn(
        model,
        normalizers,
        tcfg["h1_periodic"],
        channel_groups if tcfg["loss"] == "relative_l1" else None,
    )
    selection = _selection_key(recipe, splits.tests)
    eval_batch, sharding = tcfg["eval_batch_size"], batch_sharding(mesh)

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=tcfg["epochs"] * n_train,
            initial=start_epoch * n_train,
            unit="sample",
            unit_scale=True,
            dynamic_ncols=True,
        )
    last_eval: dict = {}
    try:
        for epoch in range(start_epoch, tcfg["epochs"]):
            indices, weights = epoch_batches(
                n_train,
                tcfg["batch_size"],
                epoch=epoch,
                seed=recipe["seed"],
                shuffle=tcfg["shuffle"],
            )
            start = time.perf_counter()
            lr = float(schedule(epoch * steps_per_epoch))
            state, losses = _run_epoch(train_step, state, data, indices, weights, bar, epoch)
            bad = np.flatnonzero(~np.isfinite(losses))
            if bad.size:
                raise NonFiniteLossError(
                    f"non-finite training loss ({losses[bad[0]]}) at step "
                    f"{epoch * steps_per_epoch + bad[0]} (epoch {epoch}); training stopped. "
                    + _last_good(checkpoints)
                )
            seconds = time.perf_counter() - start
            record = {
                "epoch": epoch,
                "step": int(state["step"]),
                "lr": lr,
                "train_loss": float(np.sum(losses * weights.sum(axis=1)) / n_train),
                "time_s": seconds,
                "samples_per_s": n_train / seconds,
            }
            last_epoch = epoch == tcfg["epochs"] - 1
            if (epoch + 1) % tcfg["eval_every"] == 0 or last_epoch:
                last_eval = {
                    name: summarize(
                        per_sample_errors(error_fn, _weights(state), test, eval_batch, sharding)[0]
                    )
                    for name, test in splits.tests.items()
                }
                for name, values in last_eval.items():
                    for metric, value in values.items():
                        record[f"test/{name}/{metric}"] = value
                log.info(
                    "epoch %d: train %s %.4f, %s",
                    epoch,
                    tcfg["loss"],
                    record["train_loss"],
                    ", ".join(f"{k} {v:.4f}" for k, v in record.items() if k.startswith("test/")),
                )
            rd.append_metrics(run_path, record)
            if (epoch + 1) % tcfg["checkpoint_every"] == 0 or last_epoch:
                meta = {"epoch": epoch, "step": int(state["step"])}
                value = record.get(f"test/{selection}")
                if value is not None and value < best["value"]:
                    best = {"value": value, "epoch": epoch}
                    checkpoints.save("best", meta["step"], state, {**meta, "best": best})
                checkpoints.save("latest", meta["step"], state, {**meta, "best": best})
    finally:
        if bar is not None:
            bar.close()
        checkpoints.close()
    return TrainResult(str(run_path), tcfg["epochs"], last_eval, jax.device_get(_weights(state)))


def _weights(state: dict) -> dict:
    """The variables evaluation uses: the moving average when there is one."""
    return state.get("ema", state["params"])


def _last_good(checkpoints: RunCheckpoints) -> str:
    step = checkpoints.latest_step()
    if step is None:
        return "No checkpoint had been saved yet."
    return f"The last good checkpoint is step {step} in {checkpoints.directory}/latest"


def _run_epoch(train_step, state, data, indices, weights, bar, epoch):
    """Dispatch one epoch of steps without waiting on any of them; return the losses.

    The progress bar shows the loss of a step a few steps back, which has finished by the
    time it is read, so the host never stalls the device queue.
    """
    losses = []
    lag = 4
    for i, (idx, w) in enumerate(zip(indices, weights)):
        state, loss = train_step(state, data, idx, w)
        losses.append(loss)
        if bar is not None:
            bar.update(int(w.sum()))
            if i >= lag and i % lag == 0:
                bar.set_postfix(epoch=epoch, loss=f"{float(losses[i - lag]):.4f}")
    return state, np.asarray(jax.device_get(losses), np.float64)


def _make_train_step(objective, optimizer, step_key, mesh, ema_decay: float = 0.0):
    """One jitted update ``(state, data, idx, weight) -> (state, loss)``; ``state`` is donated.
    With ``ema_decay > 0`` it also updates ``state["ema"]`` (see the module docstring)."""
    shard = batch_sharding(mesh)

    def step(state, data, idx, weight):
        batch = {key: value[idx] for key, value in data.items()}
        batch["weight"] = weight
        batch = jax.lax.with_sharding_constraint(batch, shard)
        rng = jax.random.fold_in(step_key, state["step"])
        variables = state["params"]
        model_state = {k: v for k, v in variables.items() if k != "params"}

        def loss_of(trainable):
            return objective({"params": trainable, **model_state}, batch, rng)

        (loss, aux), grads = jax.value_and_grad(loss_of, has_aux=True)(variables["params"])
        updates, opt_state = optimizer.update(grads, state["opt_state"], variables["params"])
        trainable = optax.apply_updates(variables["params"], updates)
        variables = {"params": trainable, **aux.get("model_state", model_state)}
        new = {"params": variables, "opt_state": opt_state, "step": state["step"] + 1}
        if ema_decay:
            average = jax.tree.map(
                lambda e, p: ema_decay * e + (1.0 - ema_decay) * p,
                state["ema"]["params"],
                trainable,
            )
            new["ema"] = {**variables, "params": average}
        return new, loss

    rep = replicated(mesh)
    return jax.jit(
        step,
        in_shardings=(rep, rep, shard, shard),
        out_shardings=(rep, rep),
        donate_argnums=(0,),
    )
