"""The same FNO in opjax and in neuraloperator: train step and inference, on this machine.

    pip install -e ".[bench]"      # torch and neuraloperator 2.0.0, benchmark-only
    python evaluation/speed/fno_vs_neuralop.py [--repeats 30] [--out FILE.md]

The model is neuraloperator 2.0.0's ``FNO(n_modes=(16, 16), in_channels=1, out_channels=1,
hidden_channels=32)`` (its defaults otherwise: grid embedding, 4 layers, channel MLPs with
soft gating, lifting and projection ratio 2), with random weights; opjax runs the same
weights, converted by ``opjax.convert.fno_params_from_neuralop`` (the script first checks
that the outputs agree). Inputs are ``[16, 64, 64]`` fields (batch 16, 64x64).

* inference: one forward pass (``torch.no_grad`` and ``eval()``; ``jax.jit(model.apply)``);
* train step: forward, relative L2 loss, backward and an AdamW update (``torch.optim.AdamW``;
  ``optax.adamw`` in one jitted step with donated parameters and optimiser state).

Each is warmed up (and compiled), then timed ``--repeats`` times per library in two
schedules:

* steady state (the headline ratio), as a training or inference loop runs: blocks of
  ``BLOCK`` back-to-back calls of one library, after a pause of ``SETTLE_S`` (so that the
  other library's worker threads are no longer spinning) and one untimed call, the
  libraries alternating block by block (so that both see the same drift of this shared
  machine);
* interleaved: the libraries alternating call by call, each call after a pause of
  ``SETTLE_S``, so that every call starts idle with the other library's data in the
  caches (slower for both; it costs the faster one a larger share of its time).

The table gives medians and the ratio neuraloperator / opjax (above 1: opjax is faster).
Both hold their parameters in their own memory (``jax.device_put``), and the table also
gives XLA's count of the floating-point operations of each opjax program and the rate
that implies. Both run in this one process, one at a time, after ``import opjax`` has set
its malloc tuning (``opjax.host_memory``), which therefore applies to both.

A second table times the train step as a user gets it, each in a fresh process of its own
(``--worker``), the processes alternating for ``ROUNDS`` rounds:

* ``user loop``: the README's quickstart loop, a user's own ``jax.jit``-ted optax AdamW
  step over ``opjax.models.FNO`` with the relative L2 loss, with no opjax set-up call;
* ``opjax train``: the step ``opjax train`` runs (:func:`opjax.training.make_train_step`
  over the one-step objective, AdamW from the recipe's ``[optimizer]``, donated state, the
  batch gathered from the training set on the device);
* ``user loop, OPJAX_RETAIN_FREED_MEMORY=0``: the user loop with glibc's malloc defaults.

Both workers use the same random weights (``PRNGKey(0)``) and the same ``[16, 64, 64, 1]``
batch.
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import statistics
import time

import numpy as np

BATCH, SIZE, MODES, WIDTH = 16, 64, 16, 32
SETTLE_S = 0.05
BLOCK = 5
ROUNDS = 3
WORKERS = {
    "user loop": ("user-loop", {}),
    "opjax train": ("opjax-train", {}),
    "user loop, OPJAX_RETAIN_FREED_MEMORY=0": ("user-loop", {"OPJAX_RETAIN_FREED_MEMORY": "0"}),
}


def build_torch():
    import torch
    from neuralop.models import FNO

    torch.manual_seed(0)
    model = FNO(n_modes=(MODES, MODES), in_channels=1, out_channels=1, hidden_channels=WIDTH)
    x = torch.randn(BATCH, 1, SIZE, SIZE)
    y = torch.randn(BATCH, 1, SIZE, SIZE)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)

    def infer():
        model.eval()
        with torch.no_grad():
            return model(x)

    def train_step():
        model.train()
        optimizer.zero_grad()
        out = model(x)
        diff = (out - y).flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1)
        loss = diff.mean()
        loss.backward()
        optimizer.step()
        return loss

    return model, x, y, infer, train_step


def build_jax(torch_model, x_torch, y_torch):
    import jax
    import jax.numpy as jnp
    import optax

    from opjax.convert import fno_params_from_neuralop
    from opjax.metrics.relative import relative_lp
    from opjax.models import FNO

    state = {
        k: v.detach().numpy() for k, v in torch_model.state_dict().items() if hasattr(v, "detach")
    }
    params = jax.device_put(fno_params_from_neuralop(state))
    model = FNO(n_modes=(MODES, MODES), in_channels=1, out_channels=1, hidden_channels=WIDTH)
    x = jnp.asarray(x_torch.numpy()).transpose(0, 2, 3, 1)
    y = jnp.asarray(y_torch.numpy()).transpose(0, 2, 3, 1)
    apply = jax.jit(model.apply)
    optimizer = optax.adamw(1e-3, weight_decay=1e-4)

    def loss_fn(p):
        return jnp.mean(relative_lp(model.apply(p, x), y))

    @jax.jit
    def _step(p, opt_state):
        loss, grads = jax.value_and_grad(loss_fn)(p)
        updates, opt_state = optimizer.update(grads, opt_state, p)
        return optax.apply_updates(p, updates), opt_state, loss

    step = jax.jit(_step, donate_argnums=(0, 1))
    train_state = {"params": jax.tree.map(jnp.array, params), "opt": optimizer.init(params)}

    flops = {
        "inference": _flops(apply.lower(params, x)),
        "train step": _flops(step.lower(train_state["params"], train_state["opt"])),
    }

    def infer():
        return apply(params, x).block_until_ready()

    def train_step():
        p, o, loss = step(train_state["params"], train_state["opt"])
        train_state["params"], train_state["opt"] = p, o
        return loss.block_until_ready()

    return params, apply, x, infer, train_step, flops


def _flops(lowered) -> float:
    """XLA's count of the floating-point operations of a lowered program."""
    cost = lowered.compile().cost_analysis()
    return float((cost[0] if isinstance(cost, list) else cost)["flops"])


def timed(fn) -> tuple[float, int]:
    """Seconds one call takes, and the minor page faults of this process during it."""
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    return seconds, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults


LIBRARIES = ("neuraloperator", "opjax")


def _medians(calls) -> dict:
    """Run ``calls``, ``(library, fn, settle, timed)`` in order (``settle``: pause
    ``SETTLE_S`` first), and give the median seconds and median page faults of each
    library's timed calls."""
    times = {name: [] for name in LIBRARIES}
    faults = {name: [] for name in LIBRARIES}
    for name, fn, settle, is_timed in calls:
        if settle:
            time.sleep(SETTLE_S)
        if not is_timed:
            fn()
            continue
        seconds, page_faults = timed(fn)
        times[name].append(seconds)
        faults[name].append(page_faults)
    return {
        name: (statistics.median(times[name]), statistics.median(faults[name]))
        for name in LIBRARIES
    }


def measure_in_blocks(fns, repeats: int) -> dict:
    """Steady state, as in a training or inference loop: blocks of ``BLOCK`` back-to-back
    calls of one library (after a pause and one untimed call), the libraries alternating
    block by block (and which goes first), until each has ``repeats`` timed calls."""

    def calls():
        for block in range(-(-repeats // BLOCK)):
            order = list(zip(LIBRARIES, fns))
            for name, fn in order if block % 2 == 0 else order[::-1]:
                yield name, fn, True, False
                for _ in range(BLOCK):
                    yield name, fn, False, True

    return _medians(calls())


def measure_interleaved(fns, repeats: int) -> dict:
    """Call by call, the libraries alternating, each call after a pause: each call finds
    the caches holding the other library's data."""
    return _medians(
        (name, fn, True, True) for _ in range(repeats) for name, fn in zip(LIBRARIES, fns)
    )


def _worker_batch():
    import jax

    x = jax.random.normal(jax.random.PRNGKey(1), (BATCH, SIZE, SIZE, 1))
    y = jax.random.normal(jax.random.PRNGKey(2), (BATCH, SIZE, SIZE, 1))
    return x, y


def user_loop_step():
    """The README's quickstart loop at the benchmark's size: ``() -> loss``."""
    import jax
    import optax

    from opjax.metrics import relative_lp
    from opjax.models import FNO

    model = FNO(n_modes=(MODES, MODES), in_channels=1, out_channels=1, hidden_channels=WIDTH)
    x, y = _worker_batch()
    params = jax.jit(model.init)(jax.random.PRNGKey(0), x)
    optimizer = optax.adamw(1e-3, weight_decay=1e-4)

    @jax.jit
    def step(params, opt_state, x, y):
        loss_fn = lambda p: relative_lp(model.apply(p, x), y).mean()  # noqa: E731
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    state = {"params": params, "opt": optimizer.init(params)}

    def run():
        state["params"], state["opt"], loss = step(state["params"], state["opt"], x, y)
        return loss.block_until_ready()

    return run


def opjax_train_step():
    """The step ``opjax train`` runs, built by the same functions: ``() -> loss``."""
    import jax
    import numpy as np

    from opjax.models import FNO
    from opjax.sharding import data_mesh, replicated
    from opjax.training import (
        init_train_state,
        init_variables,
        learning_rate_schedule,
        load_recipe,
        make_optimizer,
        make_train_step,
        one_step_objective,
        training_loss,
    )

    model = FNO(n_modes=(MODES, MODES), in_channels=1, out_channels=1, hidden_channels=WIDTH)
    x, y = _worker_batch()
    recipe = load_recipe(None, ["optimizer.schedule='constant'", "run_dir='unused'"])
    optimizer = make_optimizer(
        recipe["optimizer"], learning_rate_schedule(recipe["optimizer"], 1, 1)
    )
    mesh = data_mesh()
    variables = init_variables(model, jax.random.PRNGKey(0), {"x": x, "y": y})
    objective = one_step_objective(model, training_loss("l2", True, None))
    step = make_train_step(objective, optimizer, jax.random.PRNGKey(3), mesh)
    data = jax.device_put({"x": x, "y": y}, replicated(mesh))
    idx, weight = np.arange(BATCH), np.ones(BATCH, np.float32)
    state = {"train": init_train_state(variables, optimizer, mesh)}

    def run():
        state["train"], loss, _ = step(state["train"], data, idx, weight)
        return loss.block_until_ready()

    return run


def worker(kind: str, repeats: int) -> None:
    """Print the median seconds of ``repeats`` back-to-back steps, after warm-up."""
    import json

    run = {"user-loop": user_loop_step, "opjax-train": opjax_train_step}[kind]()
    for _ in range(3):
        run()
    times = [timed(run)[0] for _ in range(repeats)]
    print(json.dumps({"median_s": statistics.median(times)}))


def measure_workers(repeats: int) -> dict[str, list[float]]:
    """Median step seconds of each ``WORKERS`` case, one fresh process per case and
    round, the cases alternating (their order reversed every other round)."""
    import json
    import subprocess
    import sys

    medians = {label: [] for label in WORKERS}
    for round_ in range(ROUNDS):
        order = list(WORKERS.items())
        for label, (kind, env) in order if round_ % 2 == 0 else order[::-1]:
            out = subprocess.run(
                [sys.executable, __file__, "--worker", kind, "--repeats", str(repeats)],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, **env},
            )
            medians[label].append(json.loads(out.stdout.strip().splitlines()[-1])["median_s"])
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument(
        "--out", default=os.path.join(os.path.dirname(__file__), "fno_vs_neuralop.md")
    )
    parser.add_argument("--worker", choices=("user-loop", "opjax-train"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.repeats)
        return

    import jax
    import neuralop
    import torch

    from opjax.evaluation.machine import cpu_name

    torch_model, xt, yt, torch_infer, torch_train = build_torch()
    params, apply, xj, jax_infer, jax_train, flops = build_jax(torch_model, xt, yt)
    reference = torch_infer().numpy().transpose(0, 2, 3, 1)
    ours = np.asarray(apply(params, xj))
    agreement = float(np.abs(ours - reference).max() / np.abs(reference).max())

    rows = []
    for label, fns in (
        ("inference", (torch_infer, jax_infer)),
        ("train step", (torch_train, jax_train)),
    ):
        for fn in fns:  # warm-up and compilation
            fn()
            fn()
        blocks = measure_in_blocks(fns, args.repeats)
        interleaved = measure_interleaved(fns, args.repeats)
        rows.append((label, blocks, interleaved))
    blocks_train = rows[-1][1]

    lines = [
        "# FNO in opjax and in neuraloperator: train step and inference",
        "",
        f"Machine: {cpu_name()}, {os.cpu_count()} cores; torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), neuraloperator {neuralop.__version__}, "
        f"jax {jax.__version__}. Date: {datetime.date.today().isoformat()}.",
        "",
        f"Command: `python evaluation/speed/fno_vs_neuralop.py --repeats {args.repeats}`. "
        f"FNO n_modes (16, 16), width 32, batch 16, 64x64, float32, same weights "
        f"(outputs agree to {agreement:.1e} relative). Medians of {args.repeats} timed calls "
        f"per library, after warm-up. Steady state: blocks of {BLOCK} back-to-back calls of "
        "one library, the libraries alternating block by block; interleaved: the "
        f"libraries alternating call by call, each after a {1e3 * SETTLE_S:.0f} ms pause, so "
        "that each call starts idle with the other's data in the caches.",
        "",
        "| | opjax (ms) | neuraloperator (ms) | ratio neuraloperator / opjax "
        "| interleaved: opjax, neuraloperator (ms), ratio "
        "| opjax GFLOP (XLA's count) | opjax GFLOP/s | page faults per call (opjax, "
        "neuraloperator) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, blocks, interleaved in rows:
        (ours, our_faults), (theirs, their_faults) = blocks["opjax"], blocks["neuraloperator"]
        ours_cold, theirs_cold = interleaved["opjax"][0], interleaved["neuraloperator"][0]
        lines.append(
            f"| {label} | {1e3 * ours:.1f} | {1e3 * theirs:.1f} | **{theirs / ours:.2f}x** "
            f"| {1e3 * ours_cold:.1f}, {1e3 * theirs_cold:.1f}, {theirs_cold / ours_cold:.2f}x "
            f"| {flops[label] / 1e9:.2f} | {flops[label] / 1e9 / ours:.0f} "
            f"| {our_faults:.0f}, {their_faults:.0f} |"
        )
    workers = measure_workers(args.repeats)
    ours = statistics.median(workers["opjax train"])
    theirs = blocks_train["neuraloperator"][0]
    lines += [
        "",
        f"The train step as a user gets it: one fresh process per case and round, {ROUNDS} "
        f"rounds alternating, each the median of {args.repeats} back-to-back steps after "
        "warm-up (see the script's docstring). Ratio: the case's time / `opjax train`'s; "
        "neuraloperator's train step from the table above.",
        "",
        "| case | step (ms), median of rounds | rounds (ms) | / opjax train | "
        "neuraloperator / case |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, medians in workers.items():
        median = statistics.median(medians)
        lines.append(
            f"| {label} | {1e3 * median:.1f} | {', '.join(f'{1e3 * m:.1f}' for m in medians)} "
            f"| {median / ours:.2f} | {theirs / median:.2f}x |"
        )
    table = "\n".join(lines) + "\n"
    print(table)
    with open(args.out, "w") as f:
        f.write(table)


if __name__ == "__main__":
    main()
