"""Benchmark suites: recipe x dataset runs, trained, evaluated and tabulated.

A suite is a TOML file (``evaluation/suites/*.toml``) listing runs::

    description = "what this suite measures"

    [[runs]]
    name = "fno_darcy16"                   # the run's name in the table
    recipe = "../../train/fno_darcy16.toml"  # relative to the suite file
    set = ["train.epochs=20"]              # recipe overrides (optional)
    rollout = 0                            # rollout steps to evaluate (optional)

``run_suite`` trains each run in ``<runs_dir>/<suite>/<name>`` (a finished run is reused,
an interrupted one resumed), evaluates it on its recipe's test sets, and writes
``<results_dir>/<suite>.md`` and ``.json``: per run and test set the relative L2 and H1
errors, the rollout errors and correlation times where asked, and the training time.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from opjax.evaluation.machine import cpu_name
from opjax.recipe_tables import RecipeError, dump_toml
from opjax.runs.directory import CONFIG, atomic_write, read_config, read_metrics
from opjax.training.recipe import load_recipe
from opjax.version import __version__
from opjax.workflows.evaluate import evaluate_run
from opjax.workflows.train import train

log = logging.getLogger("opjax.benchmark")

_RUN_KEYS = {"name", "recipe", "set", "rollout"}


def load_suite(path: str | os.PathLike) -> dict:
    """The suite's ``description`` and ``runs`` (recipe paths made absolute), checked."""
    path = Path(path)
    try:
        suite = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise RecipeError(f"{path}: no such suite file") from None
    except tomllib.TOMLDecodeError as err:
        raise RecipeError(f"{path}: invalid TOML ({err})") from err
    runs = suite.get("runs")
    if not runs:
        raise RecipeError(f"{path}: no [[runs]]")
    names = set()
    for i, run in enumerate(runs):
        unknown = set(run) - _RUN_KEYS
        if unknown or "name" not in run or "recipe" not in run:
            raise RecipeError(
                f"{path}: runs[{i}] needs name and recipe (and may have set, rollout); "
                f"unknown keys: {sorted(unknown)}"
            )
        if run["name"] in names:
            raise RecipeError(f"{path}: two runs are named {run['name']!r}")
        names.add(run["name"])
        run["recipe"] = str((path.parent / run["recipe"]).resolve())
        run.setdefault("set", [])
        run.setdefault("rollout", 0)
    return {"name": path.stem, "description": suite.get("description", ""), "runs": runs}


def _comparable(recipe: dict) -> dict:
    """The recipe as TOML would store it, without what training fills in itself (the
    files of generated data)."""
    table = tomllib.loads(dump_toml(recipe))
    table.pop("run_dir")
    if table["data"]["generate"]:
        for key in ("train", "test", "format"):
            table["data"].pop(key)
    return table


def _train_or_resume(recipe: dict, progress: bool):
    run_path = Path(recipe["run_dir"])
    if not (run_path / CONFIG).exists():
        return train(recipe, progress=progress)
    stored = read_config(run_path)
    stored["run_dir"] = recipe["run_dir"]
    if _comparable(stored) != _comparable(recipe):
        raise RecipeError(
            f"{run_path} holds a run of a different recipe; delete it to rerun this suite entry"
        )
    return train(stored, resume=True, progress=progress)


def run_suite(
    path: str | os.PathLike,
    *,
    overrides: list[str] = (),
    runs_dir: str | os.PathLike = "runs/benchmark",
    results_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> dict:
    """Train and evaluate every run of a suite; write and return the results table."""
    suite = load_suite(path)
    results_dir = Path(results_dir or Path(path).resolve().parent.parent / "results")
    rows = {}
    for run in suite["runs"]:
        run_dir = Path(runs_dir) / suite["name"] / run["name"]
        recipe = load_recipe(run["recipe"], [*run["set"], *overrides, f"run_dir='{run_dir}'"])
        log.info("%s: training %s", suite["name"], run["name"])
        _train_or_resume(recipe, progress)
        metrics = read_metrics(run_dir)
        results = evaluate_run(str(run_dir), rollout=run["rollout"])
        rows[run["name"]] = {
            "recipe": os.path.relpath(run["recipe"], Path(path).resolve().parent),
            "overrides": [*run["set"], *overrides],
            "train_seconds": sum(m["time_s"] for m in metrics),
            "epochs": len(metrics),
            "tests": results,
        }
    table = {
        "suite": suite["name"],
        "description": suite["description"],
        "opjax_version": __version__,
        "machine": f"{cpu_name()}, {os.cpu_count()} cores",
        "runs": rows,
    }
    results_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(results_dir / f"{suite['name']}.json", json.dumps(table, indent=2) + "\n")
    atomic_write(results_dir / f"{suite['name']}.md", suite_markdown(table))
    return table


def suite_markdown(table: dict) -> str:
    """The results as Markdown: one row per run and test set."""
    lines = [f"# Benchmark suite `{table['suite']}`", ""]
    if table["description"]:
        lines += [table["description"].strip(), ""]
    lines += [
        f"opjax {table['opjax_version']}; {table['machine']}.",
        "",
        "| run | test set | resolution | samples | relative L2 | relative H1 | "
        "rollout mean L2 | corr > 0.8 time | train time |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    trajectories = []
    for name, row in table["runs"].items():
        for test, r in row["tests"].items():
            if "horizon" in r:  # a reduced-order run: errors inside and beyond the horizon
                trajectories.append((name, test, r, row["train_seconds"]))
                continue
            rollout = r.get("rollout")
            mean_l2 = f"{rollout['l2_mean']:.4f}" if rollout else "-"
            corr = f"{rollout['high_correlation_time']['0.8']:g}" if rollout else "-"
            resolution = "x".join(str(n) for n in r["resolution"])
            lines.append(
                f"| {name} | {test} | {resolution} | {r['n']} | {r['l2']:.4f} | {r['h1']:.4f} "
                f"| {mean_l2} | {corr} | {row['train_seconds']:.0f} s |"
            )
    if trajectories:
        if len(lines) == 8:  # no row in the first table
            lines = lines[:-2]
        lines += [
            "",
            "| run | test set | resolution | samples | states (horizon) | in-horizon L2 | "
            "extrapolation L2 | train time |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for name, test, r, seconds in trajectories:
            resolution = "x".join(str(n) for n in r["resolution"])
            beyond = r.get("l2_extrapolation")
            lines.append(
                f"| {name} | {test} | {resolution} | {r['n']} | {len(r['times'])} "
                f"({r['horizon']}) | {r['l2']:.4f} | "
                f"{'-' if beyond is None else f'{beyond:.4f}'} | {seconds:.0f} s |"
            )
    return "\n".join(lines) + "\n"
