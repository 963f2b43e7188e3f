"""Training against the solver on APEBench's 1D scenarios (issue 20): one-step vs unrolled
vs diverted chain vs correction, with APEBench's own runs beside them.

For each scenario (``datasets/apebench1d_<scenario>.toml``) and method, trains
``train/fno_apebench1d.toml`` with APEBench's budget (10,000 optimiser steps of batch 20:
the epochs are chosen so that the run takes that many steps, whatever its window count),
then rolls the model out 200 steps from the first state of each of the 30 test
trajectories and records the nRMSE per trajectory and step (``||pred - ref|| / ||ref||``
on the grid, exponax's ``nRMSE``). The methods (APEBench's names in brackets):

* ``one_step`` (``one``): ``train.objective = "unrolled"``, ``rollout_training.steps = 1``;
* ``unrolled`` (``sup;5``): five model steps against the data;
* ``diverted_chain`` (``div;5``): five model steps, the solver branched one step off each;
* ``correction`` (``correct;parallel`` with ``sup;5``): the network corrects a coarse
  solver step over half the interval (APEBench's ``coarse_proportion = 0.5``), trained
  unrolled five steps.

``--apebench DIR`` adds APEBench's runs (``apebench_runs.py``'s files). Writes
``--out/<scenario>_<method>.npz`` (``nrmse [30, 200]``, ``seconds``), ``results.json``,
``solver_training.md``'s table (printed) and ``error_curves.png``.

Usage::

    python evaluation/solver_training/run.py --runs runs/solver_training \\
        --out evaluation/results/solver_training --apebench /tmp/apebench_results
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import time
from pathlib import Path

import h5py
import jax.numpy as jnp
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import opjax  # noqa: E402
from opjax.evaluation.rollout import make_rollout  # noqa: E402
from opjax.training import load_recipe  # noqa: E402
from opjax.workflows import train  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "train" / "fno_apebench1d.toml"
SCENARIOS = ("adv_diff", "burgers", "ks_cons")
METHODS = {
    "one_step": ["rollout_training.steps=1"],
    "unrolled": ["rollout_training.steps=5"],
    "diverted_chain": [
        "train.objective='diverted_chain'",
        "rollout_training.steps=5",
        "rollout_training.branch_steps=1",
    ],
    "correction": [
        "train.objective='correction'",
        "rollout_training.steps=5",
        "rollout_training.coarse_proportion=0.5",
    ],
}
#: model variants beside the recipe's FNO (16 modes, width 20): name -> overrides. "wide"
#: keeps 32 rfft modes (the unstable band of KS on L = 60 reaches wavenumber 9, Burgers'
#: fronts need many) at the same parameter count (33,696 against 34,061).
VARIANTS = {
    "": [],
    "wide": ["model.hparams.n_modes=[64]", "model.hparams.hidden_channels=11"],
}
BUDGET = 10_000
BATCH = 20
HORIZON = 100


def epochs_for(method: str, n_trajectories: int = 50, n_states: int = 51) -> int:
    """The epochs that make ``BUDGET`` optimiser steps, given the method's windows."""
    levels = 5 if method in ("unrolled", "correction") else 1
    windows = n_trajectories * (n_states - levels)
    return max(round(BUDGET / math.ceil(windows / BATCH)), 1)


def run_name(scenario: str, method: str, variant: str) -> str:
    """``<scenario>_<method>`` or ``<scenario>_<method>_<variant>``."""
    return "_".join(filter(None, (scenario, method, variant)))


def train_run(scenario: str, method: str, variant: str, runs: Path) -> tuple[Path, float]:
    """Train (or resume, or reuse) one run; ``(run_dir, training seconds)``."""
    run_dir = runs / run_name(scenario, method, variant)
    finished = run_dir / "finished.json"
    if finished.exists():
        return run_dir, json.loads(finished.read_text())["seconds"]
    overrides = [
        f"data.generate={REPO / 'datasets' / f'apebench1d_{scenario}.toml'}",
        f"train.epochs={epochs_for(method)}",
        f"run_dir={run_dir}",
        *METHODS[method],
        *VARIANTS[variant],
    ]
    recipe = load_recipe(RECIPE, overrides)
    start = time.perf_counter()
    resume = (run_dir / "model.json").exists()
    train(recipe, resume=resume)
    seconds = time.perf_counter() - start
    finished.write_text(json.dumps({"seconds": seconds}))
    return run_dir, seconds


def rollout_nrmse(run_dir: Path) -> np.ndarray:
    """``[n_test, 200]``: each test trajectory's nRMSE at each rollout step."""
    run = opjax.load(run_dir)
    recipe = load_recipe(run_dir / "config.toml")
    with h5py.File(next(iter(recipe["data"]["test"].values()))) as f:
        u = np.asarray(f["fields/u"], np.float32)[..., None]  # [n, 201, 160, 1]
    rollout = make_rollout(run.model, run.normalizer)
    predicted = np.asarray(rollout(run.params, jnp.asarray(u[:, 0]), u.shape[1] - 1))
    reference = u[:, 1:]
    axes = tuple(range(2, reference.ndim))
    error = np.sqrt(np.sum((predicted - reference) ** 2, axis=axes))
    return error / np.sqrt(np.sum(reference**2, axis=axes))


def gmean_horizon(nrmse: np.ndarray) -> float:
    """GMean100: the geometric mean over trajectories of the mean nRMSE of steps 1-100."""
    return float(np.exp(np.mean(np.log(nrmse[:, :HORIZON].mean(axis=1)))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--apebench", type=Path)
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument(
        "--variants", nargs="+", default=[""], help="model variants; '' is the recipe's FNO"
    )
    parser.add_argument(
        "--no-train", action="store_true", help="tabulate the finished runs; train none"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    for scenario, method in itertools.product(args.scenarios, args.methods):
        entry = results.setdefault(scenario, {}).setdefault(method, {})
        for variant in args.variants:
            path = args.out / f"{run_name(scenario, method, variant)}.npz"
            if not path.exists() and args.no_train:
                continue
            if not path.exists():
                run_dir, seconds = train_run(scenario, method, variant, args.runs)
                np.savez(path, nrmse=rollout_nrmse(run_dir), seconds=seconds)
            entry[network_name(variant)] = summary(path)
        ape = args.apebench / f"apebench_{scenario}_{method}.npz" if args.apebench else None
        if ape is not None and ape.exists():
            entry["apebench"] = summary(ape)
        print(scenario, method, entry, flush=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    plot(args.out, args.apebench, results)


def network_name(variant: str) -> str:
    """The results key of a model variant: ``opjax`` or ``opjax_<variant>``."""
    return "_".join(filter(None, ("opjax", variant)))


def summary(path: Path) -> dict:
    """GMean100 and training seconds of one saved run (``nrmse [n_test, steps]``)."""
    saved = np.load(path)
    return {"gmean100": gmean_horizon(saved["nrmse"]), "seconds": float(saved["seconds"])}


#: table columns: results key -> header
NETWORKS = {
    "opjax": "opjax FNO, 16 modes",
    "opjax_wide": "opjax FNO, 64 modes",
    "apebench": "APEBench Conv",
}


def table(results: dict) -> str:
    """One row per scenario and method: each network's GMean100 (training seconds)."""
    lines = [
        "| scenario | method | " + " | ".join(NETWORKS.values()) + " |",
        "| --- | --- |" + " --- |" * len(NETWORKS),
    ]
    for scenario, methods in results.items():
        for method, entry in methods.items():
            cells = [
                f"{entry[key]['gmean100']:.3g} ({entry[key]['seconds']:.0f} s)"
                if key in entry
                else "not run"
                for key in NETWORKS
            ]
            lines.append(f"| {scenario} | {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(out: Path, apebench: Path | None, results: dict) -> None:
    """Per scenario, the mean nRMSE per rollout step: one colour per method, one line
    style per network."""
    styles = {"opjax": "-", "opjax_wide": ":", "apebench": "--"}
    scenarios = list(results)
    fig, axes = plt.subplots(1, len(scenarios), figsize=(5 * len(scenarios), 4), squeeze=False)
    for ax, scenario in zip(axes[0], scenarios):
        for i, (method, entry) in enumerate(results[scenario].items()):
            for key in entry:
                variant = key.removeprefix("opjax").removeprefix("_")
                path = (
                    apebench / f"apebench_{scenario}_{method}.npz"
                    if key == "apebench"
                    else out / f"{run_name(scenario, method, variant)}.npz"
                )
                curve = np.load(path)["nrmse"].mean(axis=0)
                ax.semilogy(
                    np.arange(1, curve.size + 1),
                    curve,
                    color=f"C{i}",
                    ls=styles[key],
                    label=f"{NETWORKS[key]}: {method}",
                )
        ax.axvline(HORIZON, color="grey", lw=0.5)
        ax.set_ylim(top=10)
        ax.set_title(f"phy_{scenario}")
        ax.set_xlabel("rollout step")
        ax.set_ylabel("mean nRMSE over test trajectories")
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out / "error_curves.png", dpi=120)


if __name__ == "__main__":
    main()
