"""The train step: one jitted, donated, data-parallel update of the train state.

The train state is ``{"params", "opt_state", "step"}`` and, with an exponential moving
average of the weights (``ema_decay = d > 0``), ``"ema"``: ``ema <- d ema + (1 - d) params``
after every step (state collections such as batch statistics are copied, not averaged).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np
import optax
from jax.sharding import Mesh

from opjax.sharding import batch_sharding, replicated
from opjax.training.objectives import Objective

TrainStep = Callable[[dict, dict, jax.Array, jax.Array], tuple[dict, jax.Array, dict]]


def make_train_step(
    objective: Objective,
    optimizer: optax.GradientTransformation,
    step_key: jax.Array,
    mesh: Mesh,
    ema_decay: float = 0.0,
) -> TrainStep:
    """``step(state, data, idx, weight) -> (state, loss, finite)``, jitted, ``state``
    donated; ``finite`` is the objective's ``aux["finite"]``, ``{name: bool}``: whether the
    quantities it names were finite in this step (empty for most objectives).

    ``data`` is the whole (normalised) training Sample on the devices, ``idx [batch]`` the
    samples of this step and ``weight [batch]`` their weights (0 for padding); the batch is
    split over the mesh's ``data`` axis. The step's random key is ``fold_in(step_key,
    state["step"])``, so it depends only on the seed and the step.
    """
    shard = batch_sharding(mesh)

    def step(state, data, idx, weight):
        batch = {key: value[idx] for key, value in data.items()}
        batch["weight"] = weight
        batch = jax.lax.with_sharding_constraint(batch, shard)
        batch["step"] = state["step"]  # for objectives with a schedule (a warm-up)
        rng = jax.random.fold_in(step_key, state["step"])
        variables = state["params"]
        model_state = {k: v for k, v in variables.items() if k != "params"}

        def loss_of(trainable):
            return objective({"params": trainable, **model_state}, batch, rng)

        (loss, aux), grads = jax.value_and_grad(loss_of, has_aux=True)(variables["params"])
        finite = aux.get("finite", {})
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
        return new, loss, finite

    rep = replicated(mesh)
    return jax.jit(
        step,
        in_shardings=(rep, rep, shard, shard),
        out_shardings=(rep, rep, rep),
        donate_argnums=(0,),
    )


def run_epoch(
    train_step: TrainStep, state: dict, data: dict, indices, weights, bar=None, epoch: int = 0
):
    """Dispatch one epoch of steps without waiting on any of them; return the state, the
    losses ``[steps]`` (float64) and the objective's finiteness checks ``{name: [steps]}``.

    ``indices, weights [steps, batch]`` come from :func:`opjax.data.batching.epoch_batches`.
    A progress ``bar`` (tqdm) shows the loss of a step a few steps back, which has finished
    by the time it is read, so the host never stalls the device queue.
    """
    losses, checks = [], []
    lag = 4
    for i, (idx, w) in enumerate(zip(indices, weights)):
        state, loss, finite = train_step(state, data, idx, w)
        losses.append(loss)
        checks.append(finite)
        if bar is not None:
            bar.update(int(w.sum()))
            if i >= lag and i % lag == 0:
                bar.set_postfix(epoch=epoch, loss=f"{float(losses[i - lag]):.4f}")
    losses, checks = jax.device_get((losses, checks))
    finite = {name: np.array([c[name] for c in checks]) for name in (checks[0] if checks else {})}
    return state, np.asarray(losses, np.float64), finite


def evaluated_weights(state: dict) -> dict:
    """The variables evaluation uses: the moving average when there is one."""
    return state.get("ema", state["params"])
