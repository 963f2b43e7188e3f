"""Kuramoto-Sivashinsky rollouts: opjax's ``simulate`` against exponax, on this machine.

    pip install -e ".[bench]"      # exponax 0.2.0 among the benchmark-only peers
    python evaluation/speed/solvers.py [--repeats 15]

The problem is the one both libraries call the conservative Kuramoto-Sivashinsky equation,

    u_t + (u^2 / 2)_x + u_xx + u_xxxx = 0   on [0, 60), periodic,

with 256 points, the 2/3 rule, and Cox-Matthews ETDRK4 (also ETDRK2) with ``dt = 0.1``:
a batch of 64 random sine series (PDE-Refiner's initial conditions), 1000 steps, float32.

* exponax: ``KuramotoSivashinskyConservative(1, 60.0, 256, 0.1, order=4)`` (its defaults
  otherwise), rolled out with ``jax.jit(jax.vmap(exponax.rollout(stepper, 1000)))``, or
  with ``exponax.repeat`` for the final state only;
* opjax: ``jax.jit(lambda u: simulate(KuramotoSivashinsky(PeriodicGrid((256,), 60.0)), u,
  0.1 * arange(1, 1001), dt=0.1))`` (batched by ``simulate``), or with the last time only.

Each function is compiled and run once (the "first call" column), run once more, then timed
``--repeats`` times with the two libraries interleaved; the table gives the median and the
ratio exponax / opjax (above 1: opjax is faster).

Before timing, a float64 subprocess checks that the two solve the same problem: from the
same initial conditions it compares the trajectories after 10, 100 and 1000 steps, with
each library's own dealiasing (opjax keeps ``|m| < N/3`` and leaves ``N(u)`` unfiltered;
exponax keeps ``|m| <= 2/3 (N/2) - 1`` and filters ``N(u)`` too) and with the two made
identical, which isolates the time stepping.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

N_POINTS, LENGTH, DT = 256, 60.0, 0.1


def initial_conditions(batch: int, dtype):
    """``[batch, N]`` random sine series (seed 0)."""
    import jax

    from opjax.solvers import PeriodicGrid, random_fourier_series

    grid = PeriodicGrid((N_POINTS,), LENGTH)
    keys = jax.random.split(jax.random.PRNGKey(0), batch)
    return jax.vmap(lambda k: random_fourier_series(k, grid, dtype=dtype))(keys)


def problem(batch: int, steps: int, order: int, final_only: bool):
    """``(opjax_fn, exponax_fn, u0)``: jitted float32 rollouts of one batch, ``[B, T, N]``."""
    import exponax
    import jax
    import jax.numpy as jnp
    import numpy as np

    from opjax.solvers import ETDRK, KuramotoSivashinsky, PeriodicGrid, simulate

    grid = PeriodicGrid((N_POINTS,), LENGTH)
    u0 = initial_conditions(batch, jnp.float32)
    stepper = exponax.stepper.KuramotoSivashinskyConservative(1, LENGTH, N_POINTS, DT, order=order)
    equation = KuramotoSivashinsky(grid)
    times = DT * np.arange(1, steps + 1)
    if final_only:
        times = times[-1:]
        rollout = exponax.repeat(stepper, steps)
        exponax_fn = jax.jit(lambda u: jax.vmap(rollout)(u[:, None])[:, None, 0])
    else:
        rollout = exponax.rollout(stepper, steps)
        exponax_fn = jax.jit(lambda u: jax.vmap(rollout)(u[:, None])[:, :, 0])
    solver = ETDRK(order, DT)
    opjax_fn = jax.jit(lambda u: simulate(equation, u, times, dt=DT, solver=solver))
    return opjax_fn, exponax_fn, u0


def verify_worker(float64: bool) -> list[dict]:
    """Max over the batch of ``|u_opjax - u_exponax| / |u_exponax|`` (L2 in space)."""
    import jax

    jax.config.update("jax_enable_x64", float64)
    import exponax
    import jax.numpy as jnp
    import numpy as np

    from opjax.solvers import ETDRK, KuramotoSivashinsky, PeriodicGrid, simulate

    class PostDealiased(KuramotoSivashinsky):
        def nonlinear(self, t, u_hat, args=None):
            return self.dealias(super().nonlinear(t, u_hat, args))

    grid = PeriodicGrid((N_POINTS,), LENGTH)
    # exponax keeps |m| <= fraction * (N // 2) - 1; opjax keeps |m| < N / 3 (|m| <= 85).
    same_mask = (max(m for m in range(N_POINTS // 2) if m < N_POINTS / 3) + 1.5) / (N_POINTS // 2)
    checkpoints = (10, 100, 1000)
    rows = []
    for order in (4, 2):
        u0 = initial_conditions(16, jnp.float64 if float64 else jnp.float32)
        variants = [("each library's own", KuramotoSivashinsky, 2 / 3)]
        if float64:
            variants.append(("made identical", PostDealiased, same_mask))
        for name, equation_cls, fraction in variants:
            stepper = exponax.stepper.KuramotoSivashinskyConservative(
                1, LENGTH, N_POINTS, DT, order=order, dealiasing_fraction=fraction
            )
            ref = jax.jit(jax.vmap(exponax.rollout(stepper, max(checkpoints))))(u0[:, None])
            ref = ref[:, :, 0]
            out = simulate(
                equation_cls(grid),
                u0,
                DT * np.arange(1, max(checkpoints) + 1),
                dt=DT,
                solver=ETDRK(order, DT),
            )
            diff = [
                float(
                    jnp.max(
                        jnp.linalg.norm(out[:, n - 1] - ref[:, n - 1], axis=-1)
                        / jnp.linalg.norm(ref[:, n - 1], axis=-1)
                    )
                )
                for n in checkpoints
            ]
            rows.append(
                {
                    "precision": "float64" if float64 else "float32",
                    "order": order,
                    "dealiasing": name,
                    **{str(n): d for n, d in zip(checkpoints, diff)},
                }
            )
    return rows


def verify() -> list[dict]:
    rows = []
    for flag in ("64", "32"):
        result = subprocess.run(
            [sys.executable, __file__, "--verify-worker", flag],
            check=True,
            capture_output=True,
            text=True,
        )
        rows += json.loads(result.stdout.strip().splitlines()[-1])
    return rows


def timed(fn, u0) -> float:
    import jax

    start = time.perf_counter()
    jax.block_until_ready(fn(u0))
    return time.perf_counter() - start


def benchmark(batch: int, steps: int, repeats: int) -> list[dict]:
    import numpy as np

    cases = [(4, False), (4, True), (2, False)]
    fns = {}
    first = {}
    for order, final_only in cases:
        opjax_fn, exponax_fn, u0 = problem(batch, steps, order, final_only)
        for lib, fn in (("opjax", opjax_fn), ("exponax", exponax_fn)):
            key = (order, final_only, lib)
            fns[key] = (fn, u0)
            first[key] = timed(fn, u0)
            timed(fn, u0)
    times = {key: [] for key in fns}
    for _ in range(repeats):
        for key, (fn, u0) in fns.items():  # interleaved: opjax, exponax, opjax, ...
            times[key].append(timed(fn, u0))
    rows = []
    for order, final_only in cases:
        med = {lib: float(np.median(times[(order, final_only, lib)])) for lib in LIBS}
        rows.append(
            {
                "order": order,
                "saved": "final state" if final_only else "every step",
                **{f"{lib}_s": med[lib] for lib in LIBS},
                **{
                    f"{lib}_range": (
                        min(times[(order, final_only, lib)]),
                        max(times[(order, final_only, lib)]),
                    )
                    for lib in LIBS
                },
                **{f"{lib}_first_s": first[(order, final_only, lib)] for lib in LIBS},
                "ratio": med["exponax"] / med["opjax"],
            }
        )
    return rows


LIBS = ("opjax", "exponax")


def machine() -> str:
    from opjax.evaluation.machine import cpu_name

    cpu = cpu_name()
    from importlib.metadata import version

    versions = ", ".join(f"{p} {version(p)}" for p in ("jax", "diffrax", "equinox", "exponax"))
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {versions}"


def report(args, timings: list[dict], checks: list[dict]) -> str:
    head = (
        "| problem | batch | steps | ETDRK order | saved | opjax (s) | exponax (s) "
        "| ratio exponax / opjax | first call opjax / exponax (s) |"
    )
    lines = [head, "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in timings:
        lines.append(
            f"| KS N={N_POINTS} L={LENGTH:g} dt={DT:g} float32 | {args.batch} | {args.steps} "
            f"| {r['order']} | {r['saved']} | "
            + " | ".join(
                f"{r[f'{lib}_s']:.3f} ({r[f'{lib}_range'][0]:.3f}-{r[f'{lib}_range'][1]:.3f})"
                for lib in LIBS
            )
            + f" | **{r['ratio']:.2f}x** | {r['opjax_first_s']:.1f} / {r['exponax_first_s']:.1f} |"
        )
    check_lines = [
        "| precision | ETDRK order | dealiasing | 10 steps | 100 steps | 1000 steps |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for c in checks:
        check_lines.append(
            f"| {c['precision']} | {c['order']} | {c['dealiasing']} | "
            + " | ".join(f"{c[n]:.1e}" for n in ("10", "100", "1000"))
            + " |"
        )
    return (
        "# Kuramoto-Sivashinsky rollouts: opjax vs exponax\n\n"
        f"Machine: {machine()}. Date: {datetime.date.today().isoformat()}.\n\n"
        f"Command: `python evaluation/speed/solvers.py --repeats {args.repeats}`. "
        "Times: median wall time of one jitted call (min-max in brackets) over "
        f"{args.repeats} interleaved repeats after compilation; the batch of {args.batch} "
        "random sine series is solved by one call (`simulate` batches itself; exponax's "
        "rollout is `vmap`ped). 'every step': the trajectory of all steps is returned "
        f"(`[{args.batch}, {args.steps}, {N_POINTS}]`); 'final state': only the last.\n\n"
        + "\n".join(lines)
        + "\n\n## Same problem\n\n"
        "Max over 16 trajectories of the relative L2 difference between opjax and exponax "
        "from the same initial condition. The two filter the highest modes differently "
        "(opjax keeps |m| < N/3 and leaves N(u) unfiltered; exponax keeps "
        "|m| <= 2/3 (N/2) - 1 and filters N(u) too): with each library's own rule they "
        "differ by about 1e-12 after 100 steps in float64; with the rules made identical "
        "(exponax's `dealiasing_fraction` set to keep |m| <= 85, opjax's N(u) filtered) "
        "by rounding only, so the ETDRK schemes are the same. By step 1000 (t = 100) the "
        "chaotic dynamics have amplified rounding to 1e-10 in float64 and to 1e-2-1e-1 in "
        "float32: that is the float32 predictability horizon, not a disagreement.\n\n"
        + "\n".join(check_lines)
        + "\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", default=str(Path(__file__).with_suffix(".md")))
    parser.add_argument("--verify-worker", choices=("32", "64"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.verify_worker:
        print(json.dumps(verify_worker(args.verify_worker == "64")))
        return
    checks = verify()
    timings = benchmark(args.batch, args.steps, args.repeats)
    text = report(args, timings, checks)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
