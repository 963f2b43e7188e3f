"""SPON and SPON-MG train-step time as the mesh grows, on this machine.

    python evaluation/speed/spon_scaling.py [--levels 3 4 5 6] [--batch 4] [--repeats 5] \
        [--out evaluation/speed/spon_scaling.md]

The meshes are the L-shape refined ``level`` times (``opjax.fem.l_shape``) with P2
elements, as in ``datasets/poisson_lshape.toml`` (level 4): 833, 3,201, 12,545 and 49,665
DOFs for levels 3-6 (SPON-MG's coarse mesh is the level below). One train step is
``value_and_grad`` of the MSE against a fixed target plus an Adam update, jitted, for a
batch of ``--batch`` functions with 2 input channels (a source and the Dirichlet data),
with the recipe models' sizes (``train/spon_poisson_lshape.toml``,
``train/spon_mg_poisson_lshape.toml``). The mesh is an argument of the jitted step, as it
is of the model, not a constant folded into it.

Each step is compiled and run once, then timed ``--repeats`` times (median). The table
gives milliseconds per step and per 1,000 DOFs: a flat last column is linear growth.
"""

from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from opjax.evaluation.machine import cpu_name
from opjax.fem import LagrangeSpace, l_shape
from opjax.models import build_model
from opjax.models.layers.mesh_graph import mesh_graph, multigrid_graph
from opjax.training.recipe import load_recipe

IN_CHANNELS, DEGREE = 2, 2
RECIPES = Path(__file__).resolve().parents[2] / "train"


def recipe_hparams(name: str) -> dict:
    """The hyperparameters of ``train/{name}_poisson_lshape.toml``, with its two input
    channels (``x_key = "f,g"``)."""
    recipe = load_recipe(str(RECIPES / f"{name}_poisson_lshape.toml"))
    return {**recipe["model"]["hparams"], "in_channels": IN_CHANNELS}


MODELS = {name: recipe_hparams(name) for name in ("spon", "spon_mg")}


def step_time(name: str, level: int, batch: int, repeats: int) -> tuple[int, int, float]:
    """``(n_dofs, n_params, median seconds)`` of one train step of ``name`` on ``level``."""
    fine = LagrangeSpace(l_shape(level), DEGREE)
    if name == "spon":
        graph = mesh_graph(fine)
    else:
        graph = multigrid_graph(fine, LagrangeSpace(l_shape(level - 1), DEGREE))
    model = build_model(name, MODELS[name])
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    x = jax.random.normal(keys[0], (batch, fine.n_dofs, IN_CHANNELS))
    y = jax.random.normal(keys[1], (batch, fine.n_dofs, 1))
    params = model.init(keys[2], x, graph=graph)
    optimizer = optax.adam(1e-3)
    opt_state = optimizer.init(params)

    @jax.jit
    def train_step(params, opt_state, x, y, graph):
        def loss(p):
            return jnp.mean((model.apply(p, x, graph=graph) - y) ** 2)

        value, grads = jax.value_and_grad(loss)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    jax.block_until_ready(train_step(params, opt_state, x, y, graph))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(train_step(params, opt_state, x, y, graph))
        times.append(time.perf_counter() - start)
    n_params = sum(a.size for a in jax.tree.leaves(params))
    return fine.n_dofs, n_params, float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[3, 4, 5, 6])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    lines = [
        f"Machine: {cpu_name()}, {jax.device_count()} {jax.devices()[0].platform.upper()} "
        f"device(s); jax {jax.__version__}; {datetime.date.today()}.",
        "",
        f"One train step (value_and_grad + Adam), batch {args.batch}, P{DEGREE} on the L-shape.",
        "",
        "| model | parameters | level | DOFs | ms per step | ms per 1k DOFs |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name in MODELS:
        for level in args.levels:
            n_dofs, n_params, seconds = step_time(name, level, args.batch, args.repeats)
            line = (
                f"| {name} | {n_params:,} | {level} | {n_dofs:,} | {1e3 * seconds:.1f} | "
                f"{1e6 * seconds / n_dofs:.2f} |"
            )
            print(line, flush=True)
            lines.append(line)
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out:
        args.out.write_text(table)


if __name__ == "__main__":
    main()
