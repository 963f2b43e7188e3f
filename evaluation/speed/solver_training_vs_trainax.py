"""Training against the solver: opjax's train steps against trainax's, and against the
same model and solver calls written out by hand (issue 20).

One optimiser step (loss, gradient, Adam update; jitted, called in a Python loop as a
user's training loop calls it) on APEBench's 1D scenarios (160 points, batch 20), with
the same network on both sides: APEBench's default ``Conv;34;10;relu`` (pdequinox's
``ConvNet``: eleven periodic convolutions of width 3, 34 channels, ReLU; 31,757
parameters), written in Flax for opjax. Measured:

* opjax's unrolled step (``T = 5``) and diverted-chain step (``T = 5``, ``B = 1``), through
  :func:`opjax.training.step.make_train_step` (what ``opjax train`` runs), against the same
  model and solver calls composed by hand in one jitted function (a Python loop of
  ``model.apply`` and solver calls, ``value_and_grad``, Adam): the overhead of the
  objectives;
* opjax's diverted-chain step against trainax's ``DivertedChainBranchOne`` step
  (``GeneralTrainer.step_fn``, jitted with ``eqx.filter_jit``) with exponax's reference
  stepper. The solvers differ: opjax's data solver is ETDRK4, exponax's is ETDRK2 for the
  nonlinear scenarios (both exact for the linear one).

Needs trainax, exponax and apebench beside opjax (``pip install -e . trainax==0.0.2
exponax==0.1.0 apebench==0.1.1``). Prints a Markdown table; ``--out FILE`` writes it.
"""

from __future__ import annotations

import argparse
import platform
import time

import apebench
import equinox as eqx
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import trainax as tx

from opjax.data.generation import PROBLEMS, load_dataset_recipe
from opjax.data.normalizers import Normalizers
from opjax.evaluation.machine import cpu_name
from opjax.sharding import data_mesh, replicated
from opjax.solvers.stepper import batched
from opjax.training.autoregressive import diverted_chain_objective, unrolled_objective
from opjax.training.objectives import training_loss
from opjax.training.state import init_train_state
from opjax.training.step import make_train_step

BATCH, POINTS, STEPS = 20, 160, 5
SCENARIOS = {"adv_diff": "phy_adv_diff", "burgers": "phy_burgers"}


class PeriodicConvNet(nn.Module):
    """pdequinox's ``ConvNet(1, 1, hidden_channels=34, depth=10)`` in Flax: a lifting
    convolution, ``depth - 1`` hidden ones and a projection, width 3, periodic, ReLU."""

    hidden: int = 34
    depth: int = 10

    @nn.compact
    def __call__(self, x, train: bool = False):
        for _ in range(self.depth):
            x = jax.nn.relu(nn.Conv(self.hidden, (3,), padding="CIRCULAR")(x))
        return nn.Conv(1, (3,), padding="CIRCULAR")(x)


def opjax_solver(scenario: str):
    recipe = load_dataset_recipe(f"datasets/apebench1d_{scenario}.toml")
    problem = PROBLEMS[recipe["problem"]].build(recipe["splits"]["train"]["parameters"])
    return problem.stepper()


def seconds_per_call(call, repeats: int = 5, number: int = 20) -> float:
    """The median over ``repeats`` of the mean time of ``number`` calls (after one warm-up
    call that compiles); ``call()`` returns what to block on."""
    jax.block_until_ready(call())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            out = call()
        jax.block_until_ready(out)
        times.append((time.perf_counter() - start) / number)
    return float(np.median(times))


def opjax_step(objective, variables, data):
    """``make_train_step``'s step in a loop over the same batch."""
    mesh = data_mesh()
    optimizer = optax.adam(1e-4)
    # a copy: the step donates its state, which would delete the caller's arrays
    state = {"value": init_train_state(jax.tree.map(jnp.copy, variables), optimizer, mesh)}
    step = make_train_step(objective, optimizer, jax.random.PRNGKey(0), mesh)
    data = jax.device_put(data, replicated(mesh))
    idx, weight = jnp.arange(BATCH), jnp.ones(BATCH)

    def call():
        state["value"], loss, _ = step(state["value"], data, idx, weight)
        return loss

    return call


def by_hand_step(model, solver, variables, data, diverted: bool):
    """The same losses as Python loops of model and solver calls, one jitted update."""
    optimizer = optax.adam(1e-4)
    step_solver = batched(solver, None)

    def loss(params):
        u, total = data["x"][:BATCH], 0.0
        y = data["y"][:BATCH]
        for t in range(STEPS):
            pred = model.apply(params, u)
            target = step_solver(u) if diverted else y[:, t]
            total = total + jnp.mean(jnp.sum((pred - target) ** 2, axis=-1))
            u = pred
        return total

    @jax.jit
    def update(params, opt_state):
        value, grads = jax.value_and_grad(loss)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    state = {"params": variables, "opt": optimizer.init(variables)}

    def call():
        state["params"], state["opt"], value = update(state["params"], state["opt"])
        return value

    return call


def trainax_step(scenario_name: str, trajectories):
    scenario = apebench.scenarios.scenario_dict[SCENARIOS[scenario_name]]()
    network = scenario.get_neural_stepper(
        task_config="predict", network_config="Conv;34;10;relu", key=jax.random.PRNGKey(0)
    )
    trainer = tx.trainer.DivertedChainBranchOneTrainer(
        trajectories,
        ref_stepper=scenario.get_ref_stepper(),
        optimizer=optax.adam(1e-4),
        num_training_steps=1,
        batch_size=BATCH,
        num_rollout_steps=STEPS,
    )
    step = eqx.filter_jit(trainer.step_fn)
    batch = trajectories[:BATCH, : STEPS + 1]
    state = {"net": network, "opt": trainer.optimizer.init(eqx.filter(network, eqx.is_array))}

    def call():
        state["net"], state["opt"], loss = step(state["net"], state["opt"], batch)
        return loss

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out")
    args = parser.parse_args()
    rows = []
    for name in SCENARIOS:
        scenario = apebench.scenarios.scenario_dict[SCENARIOS[name]]()
        trajectories = scenario.get_train_data()  # [50, 51, 1, 160]
        u = np.moveaxis(np.asarray(trajectories), 2, -1)  # [50, 51, 160, 1]
        data = {"x": u[:BATCH, 0], "y": u[:BATCH, 1 : STEPS + 1]}
        model = PeriodicConvNet()
        variables = model.init(jax.random.PRNGKey(0), jnp.zeros((1, POINTS, 1)))
        solver = opjax_solver(name)
        loss = training_loss("mse", True, None)
        identity = Normalizers(None, None)
        unrolled = unrolled_objective(model, loss, identity, steps=STEPS)
        diverted = diverted_chain_objective(
            model, loss, identity, solver, steps=STEPS, branch_steps=1
        )
        times = {
            "unrolled": seconds_per_call(opjax_step(unrolled, variables, data)),
            "unrolled_by_hand": seconds_per_call(
                by_hand_step(model, solver, variables, data, diverted=False)
            ),
            "diverted": seconds_per_call(opjax_step(diverted, variables, data)),
            "diverted_by_hand": seconds_per_call(
                by_hand_step(model, solver, variables, data, diverted=True)
            ),
            "trainax_diverted": seconds_per_call(trainax_step(name, trajectories)),
        }
        rows.append((name, times))
        print(name, times, flush=True)
    lines = [
        f"Machine: {cpu_name()}, {jax.device_count()} CPU device(s); Python "
        f"{platform.python_version()}, jax {jax.__version__}, trainax 0.0.2, exponax 0.1.0.",
        "",
        "One optimiser step, batch 20, 160 points, T = 5 (diverted chain: B = 1), "
        "APEBench's Conv;34;10;relu on both sides. Milliseconds per step (median of 5 x 20).",
        "",
        "| scenario | opjax unrolled | by hand | overhead | opjax diverted chain | by hand | "
        "overhead | trainax diverted chain | opjax / trainax |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, t in rows:
        lines.append(
            f"| {name} | {1e3 * t['unrolled']:.2f} | {1e3 * t['unrolled_by_hand']:.2f} | "
            f"{t['unrolled'] / t['unrolled_by_hand']:.2f} | {1e3 * t['diverted']:.2f} | "
            f"{1e3 * t['diverted_by_hand']:.2f} | {t['diverted'] / t['diverted_by_hand']:.2f} | "
            f"{1e3 * t['trainax_diverted']:.2f} | {t['diverted'] / t['trainax_diverted']:.2f} |"
        )
    table = "\n".join(lines)
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
