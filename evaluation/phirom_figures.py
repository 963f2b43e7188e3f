"""Phi-ROM against its data-only baseline: the figures of ``evaluation/results/phirom.md``.

After ``opjax benchmark evaluation/suites/phirom_cpu.toml`` (runs under
``runs/benchmark/phirom_cpu``), reads each run's ``report/metrics.json`` and writes to
``--out``:

* ``errors_<problem>_<test set>.png``: the relative L2 per saved time of both objectives,
  the end of the training horizon dashed;
* ``spacetime_burgers.png``: the first extrapolation-mu trajectory, truth and both
  predictions, with their errors (1D).

Usage::

    python evaluation/phirom_figures.py --runs runs/benchmark/phirom_cpu \\
        --out evaluation/results/phirom
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from opjax.data.formats import open_dataset
from opjax.evaluation.plots import plot_curves, plot_space_time
from opjax.runs import load
from opjax.runs.directory import CONFIG, REPORT
from opjax.training.recipe import load_recipe

OBJECTIVES = {"phirom": "Phi-ROM", "data_only": "data only"}


def error_figures(runs: str, out: str) -> None:
    for problem in ("burgers", "diffusion"):
        reports = {
            label: json.loads(Path(runs, f"{problem}_{key}", REPORT, "metrics.json").read_text())
            for key, label in OBJECTIVES.items()
        }
        for test, first in next(iter(reports.values())).items():
            times = np.asarray(first["times"])
            plot_curves(
                times,
                {
                    "relative L2 error": {
                        label: np.asarray(r[test]["l2_per_time"]) for label, r in reports.items()
                    }
                },
                os.path.join(out, f"errors_{problem}_{test}.png"),
                title=f"{problem}, {test}: mean over {first['n']} trajectories",
                xlabel="time",
                vertical_lines=[float(times[first["horizon"] - 1])],
            )


def burgers_space_time(runs: str, out: str) -> None:
    predictions = {}
    for key, label in OBJECTIVES.items():
        run_dir = os.path.join(runs, f"burgers_{key}")
        config = load_recipe(os.path.join(run_dir, CONFIG))
        with open_dataset(config["data"]["test"]["extrapolation"], "opjax_h5") as file:
            u = file.fields["u"].read([1])[0]  # the larger mu, [T, x, 1]
            mu, times = np.asarray(file.params["mu"])[1:2], file.times
        settings = config["reduced_order"]
        run = load(run_dir)
        predictions[label] = np.asarray(
            run.predict(
                u[None, 0],
                times,
                mu[:, None],
                steps=settings["inversion_steps"],
                learning_rate=settings["inversion_lr"],
            )
        )[0, ..., 0]
    plot_space_time(
        u[..., 0],
        predictions,
        os.path.join(out, "spacetime_burgers.png"),
        title=f"Burgers, mu = {mu[0]:.4f} (outside the training range)",
        times=times,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs/benchmark/phirom_cpu")
    parser.add_argument("--out", default="evaluation/results/phirom")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    error_figures(args.runs, args.out)
    burgers_space_time(args.runs, args.out)


if __name__ == "__main__":
    main()
