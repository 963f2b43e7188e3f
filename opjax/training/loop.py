"""The training loop: epochs of train steps, evaluation, metrics records and checkpoints.

:func:`fit` runs epochs ``start_epoch .. epochs - 1``. Each epoch's batch order depends only
on the seed and the epoch (:func:`opjax.data.batching.epoch_batches`) and each step's key
only on the seed and the step (:mod:`opjax.training.step`), so a run resumed from a
checkpoint ends with the same parameters and metrics as one never interrupted. Every
``eval_every`` epochs (and after the last) it calls ``evaluate``; every epoch it appends a
record to ``metrics.jsonl``; every ``checkpoint_every`` epochs (and after the last) it saves
``latest``, and ``best`` when the selection metric improved.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np

from opjax.data.batching import epoch_batches
from opjax.runs.checkpoints import RunCheckpoints
from opjax.runs.directory import append_metrics
from opjax.training.step import TrainStep, evaluated_weights, run_epoch

log = logging.getLogger("opjax.train")


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss; the run stopped at the named step."""


@dataclasses.dataclass(frozen=True)
class LoopSettings:
    """The loop's schedule (the recipe's ``train`` table, resolved).

    Attributes:
        epochs, batch_size, shuffle, eval_every, checkpoint_every: as in the recipe.
        seed: the recipe's seed (the batch order of every epoch derives from it).
        loss: the training loss's name, for the log.
        selection: the record key ``best`` is chosen by (its lowest value), e.g.
            ``"test/16/l2"``.
        learning_rate: the schedule, ``step -> lr`` (recorded once per epoch).
    """

    epochs: int
    batch_size: int
    shuffle: bool
    eval_every: int
    checkpoint_every: int
    seed: int
    loss: str
    selection: str
    learning_rate: Callable[[int], float]


def fit(
    train_step: TrainStep,
    state: dict,
    data: dict,
    settings: LoopSettings,
    *,
    evaluate: Callable[[dict], dict[str, dict[str, float]]],
    checkpoints: RunCheckpoints,
    run_dir: Path,
    start_epoch: int = 0,
    best: dict | None = None,
    bar=None,
) -> tuple[dict, dict[str, dict[str, float]]]:
    """Train from ``start_epoch``; return the final state and the last evaluation.

    Args:
        train_step: from :func:`opjax.training.step.make_train_step`.
        state: the train state (donated to the first step).
        data: the whole training Sample, normalised, on the devices (or whatever the
            objective indexes per sample, e.g. ``{"index": [n]}`` on the fly).
        evaluate: ``variables -> {test set: {metric: value}}``.
        best: ``{"value", "epoch"}`` of the best checkpoint so far (resuming).
        bar: a tqdm progress bar counting samples, or None.

    Raises:
        NonFiniteLossError: a step's loss was NaN or infinite.
    """
    n_train = len(jax.tree.leaves(data)[0])
    steps_per_epoch = math.ceil(n_train / settings.batch_size)
    best = dict(best or {"value": math.inf, "epoch": -1})
    last_eval: dict = {}
    for epoch in range(start_epoch, settings.epochs):
        indices, weights = epoch_batches(
            n_train, settings.batch_size, epoch=epoch, seed=settings.seed, shuffle=settings.shuffle
        )
        start = time.perf_counter()
        lr = float(settings.learning_rate(epoch * steps_per_epoch))
        state, losses, finite = run_epoch(train_step, state, data, indices, weights, bar, epoch)
        bad = np.flatnonzero(~np.isfinite(losses))
        if bad.size:
            culprits = [name for name, ok in finite.items() if not ok[bad[0]]]
            because = f" because {' and '.join(culprits)} became non-finite" if culprits else ""
            raise NonFiniteLossError(
                f"non-finite training loss ({losses[bad[0]]}) at step "
                f"{epoch * steps_per_epoch + bad[0]} (epoch {epoch}){because}; training "
                "stopped. " + _last_good(checkpoints)
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
        last = epoch == settings.epochs - 1
        if (epoch + 1) % settings.eval_every == 0 or last:
            last_eval = evaluate(evaluated_weights(state))
            for name, values in last_eval.items():
                for metric, value in values.items():
                    record[f"test/{name}/{metric}"] = value
            log.info(
                "epoch %d: train %s %.4f, %s",
                epoch,
                settings.loss,
                record["train_loss"],
                ", ".join(f"{k} {v:.4f}" for k, v in record.items() if k.startswith("test/")),
            )
        append_metrics(run_dir, record)
        if (epoch + 1) % settings.checkpoint_every == 0 or last:
            meta = {"epoch": epoch, "step": int(state["step"])}
            value = record.get(settings.selection)
            if value is not None and value < best["value"]:
                best = {"value": value, "epoch": epoch}
                checkpoints.save("best", meta["step"], state, {**meta, "best": best})
            checkpoints.save("latest", meta["step"], state, {**meta, "best": best})
    return state, last_eval


def _last_good(checkpoints: RunCheckpoints) -> str:
    step = checkpoints.latest_step()
    if step is None:
        return "No checkpoint had been saved yet."
    return f"The last good checkpoint is step {step} in {checkpoints.directory}/latest"
