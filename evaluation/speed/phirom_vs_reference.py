"""One Phi-ROM physics-informed train step in opjax and in the reference code (phi-rom/PhiROM).

    python3 -m venv /work/phirom_ref_venv
    /work/phirom_ref_venv/bin/pip install jax==0.7.0 equinox==0.13.0 diffrax==0.7.0 \\
        optax==0.2.5 numpy
    mkdir -p /work/phirom_ref_src
    git --git-dir=PHIROM_GIT_DIR archive HEAD | tar -x -C /work/phirom_ref_src
    python evaluation/speed/phirom_vs_reference.py [--repeats 20] \\
        [--reference-python /work/phirom_ref_venv/bin/python] [--source /work/phirom_ref_src]

The reference's Burgers configuration (script_burgers_NODE.py and train_burgers_PHIROM.sh):
8 trajectories x 100 snapshots (one batch of 800 snapshots), 256 points, latent 4, an
MLP-sine decoder of width 32 and depth 4, ``hyper_concat`` dynamics of width 64 and depth 4
with one PDE parameter, ``gamma = 0.1`` (``J`` on 25 points), ``lambda = 0.5``, AdamW at
5e-3, past the warm-up (``L_dyn`` trains the decoder and the latents too), float32. The
data is forward-Euler Burgers from a smoothed step (the same arrays in both processes).

* opjax: :func:`~opjax.training.reduced_order.physics_informed_objective` in
  :func:`~opjax.training.step.make_train_step` (jitted, state donated), the state made by
  :func:`~opjax.training.state.init_train_state`, batch ``y [8, 100, 256, 1]``;
* reference: ``PhiROMTrainer._inner_step`` under ``eqx.filter_jit(..., donate="all")``,
  exactly as ``PhiROMTrainer.fit`` calls it, on the batch its data loader gives
  (``[800, 1, 256]`` snapshots). ``fit`` hands it a fresh batch each step (its arguments
  are donated): the copy is made before the clock starts. It runs in the reference's
  environment, in a subprocess of this script (``--peer``), with the torch, h5py, flax and
  matplotlib imports that the reference needs only for data loading and plotting stubbed.

The two alternate, one step each in turn (the other process waits on a pipe), so that
other load on the machine falls on both alike. Each step is timed to
``block_until_ready`` of its outputs. The first ``WARMUP`` steps are not timed: the first
compiles, and the reference compiles twice more (the leaf types of the state it carries
change over the first steps: its numpy normalisation constants come back from an update
as JAX arrays, and ``filter_jit`` retraces); the table gives the
first step and the median, range and fastest of the next ``--repeats``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np

TRAJECTORIES, SNAPSHOTS, POINTS, LENGTH = 8, 100, 256, 100.0
LATENT, DECODER_WIDTH, DECODER_DEPTH = 4, 32, 4
DYNAMICS_WIDTH, DYNAMICS_DEPTH = 64, 4
GAMMA, LOSS_LAMBDA, LEARNING_RATE, DT = 0.1, 0.5, 5e-3, 0.07
WARMUP = 5


def burgers_data() -> dict:
    """``u [8, 100, 256]`` (float32) by forward Euler of the reference's upwind scheme,
    ``x [256]``, ``mu [8]`` (the training values), ``dx``."""
    x = np.linspace(0.0, LENGTH, POINTS)
    dx = LENGTH / (POINTS - 1)
    mu = np.linspace(0.015, 0.03, TRAJECTORIES)
    q = np.broadcast_to(1.1 + 1.6 * (1 - np.tanh((x - 11.8) / 0.6)), (TRAJECTORIES, POINTS))
    snapshots = []
    for _ in range(SNAPSHOTS):
        snapshots.append(q)
        flux = 0.5 * q**2
        rate = np.zeros_like(q)
        rate[:, 1:] = -(flux[:, 1:] - flux[:, :-1]) / dx + 0.02 * np.exp(mu[:, None] * x[1:])
        q = q + DT * rate
    return {"u": np.stack(snapshots, axis=1).astype(np.float32), "x": x, "mu": mu, "dx": dx}


def opjax_step():
    """opjax's train step on the Burgers configuration: ``step() -> (seconds, loss)``."""
    import jax
    import jax.numpy as jnp
    import optax

    from opjax.models import build_model
    from opjax.sharding import data_mesh, replicated
    from opjax.solvers import UpwindBurgers
    from opjax.training.reduced_order import physics_informed_objective
    from opjax.training.state import init_train_state
    from opjax.training.step import make_train_step

    data = burgers_data()
    u, mu = data["u"], data["mu"]
    model = build_model(
        "phirom",
        {
            "out_channels": 1,
            "latent_dim": LATENT,
            "decoder": "mlp",
            "decoder_width": DECODER_WIDTH,
            "decoder_depth": DECODER_DEPTH,
            "dynamics_width": DYNAMICS_WIDTH,
            "dynamics_depth": DYNAMICS_DEPTH,
            "n_params": 1,
            "n_trajectories": TRAJECTORIES,
            "n_times": SNAPSHOTS,
            "coords_low": (0.0,),
            "coords_high": (LENGTH,),
            "params_mean": (float(mu.mean()),),
            "params_std": (float(mu.std(ddof=1)),),
            "field_mean": (float(u.mean()),),
            "field_std": (float(u.std(ddof=1)),),
        },
    )
    coords = jnp.asarray(data["x"][:, None], jnp.float32)

    def field_rate(field, params):  # [256, 1], [1] -> [256, 1]
        equation = UpwindBurgers(params[0], points=POINTS, length=LENGTH)
        return equation.vector_field(0.0, field[..., 0])[..., None]

    objective = physics_informed_objective(
        model, coords, field_rate, loss_lambda=LOSS_LAMBDA, gamma=GAMMA
    )
    optimizer = optax.adamw(LEARNING_RATE)
    mesh = data_mesh()
    variables = model.init(jax.random.PRNGKey(102), coords[None], jnp.zeros((1, LATENT)))
    state = init_train_state(variables, optimizer, mesh)
    train_step = make_train_step(objective, optimizer, jax.random.PRNGKey(0), mesh)
    batch = {
        "y": u[..., None],
        "params": mu[:, None].astype(np.float32),
        "index": np.arange(TRAJECTORIES, dtype=np.int32),
    }
    batch = jax.device_put(batch, replicated(mesh))  # the whole training set, on the device
    idx, weight = jnp.arange(TRAJECTORIES), jnp.ones(TRAJECTORIES)

    def step():
        nonlocal state
        start = time.perf_counter()
        state, loss, _ = jax.block_until_ready(train_step(state, batch, idx, weight))
        return time.perf_counter() - start, float(loss)

    return step


def import_reference(source: Path):
    """The reference's modules, with its data-loading and plotting imports stubbed."""

    class Stub:  # stands for torch's Dataset and DataLoader: never used here
        pass

    def stub(name, **attributes):
        module = types.ModuleType(name)
        module.__dict__.update(attributes)
        sys.modules[name] = module

    stub("torch", Tensor=type("Tensor", (), {}))  # pretty-printers look for torch.Tensor
    stub("torch.utils")
    stub("torch.utils.data", Dataset=Stub, DataLoader=Stub, dataloader=None, default_collate=None)
    stub("h5py")
    stub("flax")
    stub("flax.jax_utils", prefetch_to_device=None)
    stub("matplotlib")
    stub("matplotlib.pyplot")
    sys.path.insert(0, str(source))
    import PHIROM.modules.models as models
    import PHIROM.pde.burgers as burgers
    import PHIROM.training.train as train

    return models, burgers, train


def reference_step(source: Path):
    """The reference's train step on the Burgers configuration (in its environment):
    ``step() -> (seconds, loss)``."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import optax

    models, burgers, train = import_reference(source)
    data = burgers_data()
    u, mu, x = data["u"], data["mu"], data["x"]
    hyperparams = {  # as script_burgers_NODE.py builds them
        "latent_dim": LATENT,
        "num_sensors": POINTS,
        "field_dim": 1,
        "spatial_dim": 1,
        "mean_field": np.array([u.mean()]),
        "std_field": np.array([u.std(ddof=1)]),
        "activation": "sin",
        "node_kwargs": {
            "node_arch": "hyper_concat",
            "activation": "swish",
            "depth": DYNAMICS_DEPTH,
            "width": DYNAMICS_WIDTH,
            "param_size": 1,
            "solver": "bosh3",
            "adaptive": False,
            "max_steps": None,
            "mean_params": np.array([mu.mean()]),
            "std_params": np.array([mu.std(ddof=1)]),
        },
        "width_scale": DECODER_WIDTH,
        "decoder_arch": models.DecoderArchEnum.MLP,
        "n_layers": DECODER_DEPTH,
        "min_x": np.array([0.0]),
        "max_x": np.array([LENGTH]),
    }
    key, subkey = jax.random.split(jax.random.PRNGKey(102))
    model, model_state = eqx.nn.make_with_state(models.NodeROM)(**hyperparams, key=subkey)
    trainer = train.PhiROMTrainer(
        model=model,
        model_state=model_state,
        optimizer=optax.adamw(LEARNING_RATE),
        optimizer_node=None,
        optimizer_latent=None,
        node_training_mode=train.NodeTrainingModeEnum.JACOBIAN_INVERSE,
        loss="nmse",
        evolve_fn=burgers.residual_burgers,
        num_trajectories=TRAJECTORIES,
        num_time_steps=SNAPSHOTS,
        latent_dim=LATENT,
        gamma=GAMMA,
        loss_lambda=LOSS_LAMBDA,
        key=key,
    )
    inner_step = eqx.filter_jit(trainer._inner_step, donate="all")  # as in fit
    mesh = jax.make_mesh((1,), ("shard",), devices=jax.devices()[:1])
    sharding_model = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    sharding_data = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(("shard",)))
    traj, time_idx = np.divmod(np.arange(TRAJECTORIES * SNAPSHOTS), SNAPSHOTS)
    n = len(traj)
    coords = np.broadcast_to(x[:, None], (n, POINTS, 1)).astype(np.float32)
    batch = {  # the collated batch of BurgersDatasetTorch
        "data": u.reshape(n, 1, POINTS),
        "coords": coords,
        "t": (time_idx * DT).astype(np.float32),
        "dt": np.full(n, DT, np.float32),
        "dx": np.full(n, data["dx"], np.float32),
        "idx": traj,
        "time_idx": time_idx,
        "solver_args": [coords, mu[traj].astype(np.float32)],
        "node_args": mu[traj].astype(np.float32),
    }
    carry = {
        "model": model,
        "state": model_state,
        "memory": trainer.latent_memory,
        "opt": trainer.opt_state,
        "opt_node": trainer.opt_state_node,
        "opt_latent": trainer.opt_state_latent,
    }
    rng = jax.random.PRNGKey(0)

    def step():
        nonlocal rng
        rng, subkey = jax.random.split(rng)
        fresh = jax.block_until_ready(jax.device_put(batch))  # donated by the step
        start = time.perf_counter()
        out = inner_step(
            carry["model"],
            carry["state"],
            carry["opt"],
            carry["opt_node"],
            carry["opt_latent"],
            carry["memory"],
            fresh["data"],
            fresh["coords"],
            fresh["t"],
            fresh["dt"],
            fresh["dx"],
            fresh["idx"],
            fresh["time_idx"],
            burgers.residual_burgers,
            fresh["solver_args"],
            fresh["node_args"],
            GAMMA,
            sharding_model,
            sharding_data,
            jnp.array(1.0),  # past the warm-up
            key=subkey,
        )
        out = jax.block_until_ready(out)
        elapsed = time.perf_counter() - start
        *updated, losses = out
        carry.update(zip(("model", "state", "memory", "opt", "opt_node", "opt_latent"), updated))
        rec, dyn = losses["loss_reconstruction"], losses["loss_time_stepping"]
        return elapsed, float(LOSS_LAMBDA * rec + (1 - LOSS_LAMBDA) * dyn)

    return step


def serve_reference(source: Path) -> None:
    """``--peer``: one reference step per line read from stdin, its ``[seconds, loss]``
    written as a JSON line (the reference's own prints are discarded)."""
    reply = sys.stdout
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        step = reference_step(source)
        reply.write(json.dumps({"jax": sys.modules["jax"].__version__}) + "\n")
        reply.flush()
        for _ in sys.stdin:
            reply.write(json.dumps(step()) + "\n")
            reply.flush()


def summary(results: list[tuple[float, float]]) -> dict:
    """The first step's time; median, range and fastest of the timed ones; the last loss."""
    timed = [seconds for seconds, _ in results[WARMUP:]]
    return {
        "first": results[0][0],
        "median": float(np.median(timed)),
        "min": min(timed),
        "max": max(timed),
        "loss": results[-1][1],
    }


def main() -> None:
    from opjax.evaluation.machine import cpu_name

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--reference-python", default="/work/phirom_ref_venv/bin/python")
    parser.add_argument("--source", default=os.environ.get("PHIROM_SOURCE", "/work/phirom_ref_src"))
    parser.add_argument("--peer", action="store_true", help="(internal) serve reference steps")
    args = parser.parse_args()
    if args.peer:
        serve_reference(Path(args.source))
        return

    import jax

    ours_step = opjax_step()
    command = [args.reference_python, __file__, "--peer", "--source", args.source]
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as peer:
        reference_jax = json.loads(peer.stdout.readline())["jax"]

        def theirs_step():
            peer.stdin.write("step\n")
            peer.stdin.flush()
            return tuple(json.loads(peer.stdout.readline()))

        ours, theirs = [], []
        for _ in range(WARMUP + args.repeats):
            ours.append(ours_step())
            theirs.append(theirs_step())
        peer.stdin.close()
    ours, theirs = summary(ours), summary(theirs)
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores")
    print(f"jax: opjax {jax.__version__}, reference {reference_jax}")
    print(f"{args.repeats} timed steps after {WARMUP}, alternating")
    ms = lambda r, key: f"{1e3 * r[key]:.0f}"  # noqa: E731
    rows = (
        ("train step, median (range)", "median"),
        ("train step, fastest", "min"),
        ("first step (compiles)", "first"),
    )
    print("| | opjax (ms) | reference (ms) | reference / opjax |")
    print("| --- | --- | --- | --- |")
    for label, key in rows:
        cells = [ms(r, key) for r in (ours, theirs)]
        if key == "median":
            cells = [f"{c} ({ms(r, 'min')}-{ms(r, 'max')})" for c, r in zip(cells, (ours, theirs))]
        print(f"| {label} | {cells[0]} | {cells[1]} | {theirs[key] / ours[key]:.2f}x |")
    print(f"loss at the last step: opjax {ours['loss']:.4f}, reference {theirs['loss']:.4f}")


if __name__ == "__main__":
    main()
