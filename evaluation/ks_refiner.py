"""PDE-Refiner against the MSE-trained U-Net on Kuramoto-Sivashinsky (issue 7).

Rolls both runs out from the first state of every test trajectory for as many model steps
as the trajectories hold, and writes to ``--out``:

* the mean Pearson correlation per step and the high-correlation times (pdearena's rule:
  model step times the number of steps whose test-mean correlation exceeds the threshold,
  :mod:`opjax.metrics.correlation`);
* for PDE-Refiner, ``--samples`` independent rollouts (fresh refinement noise every step):
  the spread of its samples against the error of its rollouts, and per trajectory the
  high-correlation time estimated without the truth (the time the samples stay correlated
  with each other, :mod:`opjax.metrics.uncertainty`) against the true one;
* ``results.json``, ``results.md`` and the plots ``correlation.png``, ``space_time.png``,
  ``uncertainty.png``.

Usage (after ``opjax train train/unet_ks.toml`` and ``opjax train train/refiner_ks.toml``)::

    python evaluation/ks_refiner.py --unet runs/unet_ks --refiner runs/refiner_ks \\
        --out evaluation/results/ks_refiner
"""

from __future__ import annotations

import argparse
import json
import os

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from opjax.data.formats import open_dataset  # noqa: E402
from opjax.data.windowing import rollout_targets  # noqa: E402
from opjax.evaluation.plots import plot_curves, plot_space_time  # noqa: E402
from opjax.evaluation.rollout import make_rollout, make_sampled_rollout  # noqa: E402
from opjax.evaluation.rollout_evaluation import rollout_spec  # noqa: E402
from opjax.metrics.correlation import (  # noqa: E402
    THRESHOLDS,
    high_correlation_time,
    pearson_correlation,
)
from opjax.metrics.uncertainty import sample_correlation, sample_std  # noqa: E402
from opjax.runs import directory as rd  # noqa: E402
from opjax.runs import load  # noqa: E402
from opjax.training.recipe import load_recipe  # noqa: E402

PAPER_SECONDS = {"U-Net (MSE)": 75.0, "PDE-Refiner": 98.0}  # Lippe et al. 2023, KS, approx.


def test_trajectories(run_dir: str, test_name: str):
    """``(x [n, x, c], truth [n, steps, x, c], model dt)``: every test trajectory, all of it."""
    data_cfg = load_recipe(os.path.join(run_dir, rd.CONFIG))["data"]
    path = data_cfg["test"][test_name]
    with open_dataset(path, data_cfg["format"]) as file:
        name, k, time_step = rollout_spec(data_cfg, file)
        field = file.field(name)
        n_steps = len(range(0, field.shape[1], time_step)) - k
        target = rollout_targets(field, k, n_steps, time_step=time_step)
        times = np.asarray(file.times)
    return target["x"], target["y"], float(times[time_step] - times[0])


def per_trajectory_times(corr: np.ndarray, dt: float, threshold: float = 0.8) -> np.ndarray:
    """``[n]``: for each trajectory, the time before its correlation first drops to or
    below ``threshold``."""
    return np.array(
        [float(high_correlation_time(c[None], threshold, dt=dt, rule="first")) for c in corr]
    )


def correlation_summary(corr: np.ndarray, dt: float) -> dict:
    """High-correlation times (pdearena's count rule) of ``corr [n, steps]``."""
    times = np.asarray(high_correlation_time(corr, THRESHOLDS, dt=dt))
    return {str(t): float(v) for t, v in zip(THRESHOLDS, times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--unet", required=True, help="run directory of train/unet_ks.toml")
    parser.add_argument("--refiner", required=True, help="run directory of train/refiner_ks.toml")
    parser.add_argument("--test", default="test", help="the recipe's test set to roll out on")
    parser.add_argument("--samples", type=int, default=8, help="refiner rollouts to sample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="evaluation/results/ks_refiner")
    args = parser.parse_args()

    x, truth, dt = test_trajectories(args.refiner, args.test)
    n, n_steps = truth.shape[:2]
    lead_times = dt * np.arange(1, n_steps + 1)
    runs = {"U-Net (MSE)": load(args.unet), "PDE-Refiner": load(args.refiner)}

    predictions, correlations = {}, {}
    for label, run in runs.items():
        pred = np.asarray(make_rollout(run.model, run.normalizer)(run.params, x, n_steps))
        predictions[label] = pred
        correlations[label] = np.asarray(pearson_correlation(pred, truth))

    refiner = runs["PDE-Refiner"]
    sampled = make_sampled_rollout(refiner.model, refiner.normalizer)
    samples = np.asarray(
        sampled(refiner.params, x, n_steps, jax.random.PRNGKey(args.seed), args.samples)
    )  # [S, n, steps, x, c]
    sample_corr = np.stack([np.asarray(pearson_correlation(s, truth)) for s in samples])
    spread = np.asarray(sample_std(samples)).mean(axis=0)  # [steps]
    rmse = np.sqrt(((samples - truth[None]) ** 2).mean(axis=(3, 4))).mean(axis=(0, 1))
    mean_rmse = np.sqrt(((samples.mean(axis=0) - truth) ** 2).mean(axis=(2, 3))).mean(axis=0)
    agreement = np.asarray(sample_correlation(samples))  # [n, steps]
    estimated = per_trajectory_times(agreement, dt)
    actual = per_trajectory_times(sample_corr.mean(axis=0), dt)

    per_sample = [correlation_summary(c, dt) for c in sample_corr]
    results = {
        "test_trajectories": int(n),
        "steps": int(n_steps),
        "model_dt": dt,
        "models": {
            label: {
                "high_correlation_time": correlation_summary(corr, dt),
                "paper_high_correlation_time_0.8": PAPER_SECONDS[label],
                "correlation_per_step": corr.mean(axis=0).tolist(),
            }
            for label, corr in correlations.items()
        },
        "refiner_sampled": {
            "samples": args.samples,
            "high_correlation_time_per_sample": per_sample,
            "high_correlation_time_0.8_mean": float(np.mean([t["0.8"] for t in per_sample])),
            "high_correlation_time_0.8_std": float(np.std([t["0.8"] for t in per_sample])),
            "spread_per_step": spread.tolist(),
            "rmse_per_step": rmse.tolist(),
            "sample_mean_rmse_per_step": mean_rmse.tolist(),
            "log_spread_vs_log_rmse_pearson": float(
                np.corrcoef(np.log(spread), np.log(rmse))[0, 1]
            ),
            "estimated_vs_actual_time_pearson": float(np.corrcoef(estimated, actual)[0, 1]),
            "estimated_time_per_trajectory": estimated.tolist(),
            "actual_time_per_trajectory": actual.tolist(),
        },
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(markdown(results))

    plot_curves(
        lead_times,
        {
            "mean correlation": {k: c.mean(axis=0) for k, c in correlations.items()},
            "relative L2 error": {
                k: np.sqrt(((p - truth) ** 2).sum(axis=(2, 3)) / (truth**2).sum(axis=(2, 3))).mean(
                    axis=0
                )
                for k, p in predictions.items()
            },
        },
        os.path.join(args.out, "correlation.png"),
        title=f"KS rollouts, mean over {n} test trajectories",
        xlabel="time",
        reference_lines={"mean correlation": 0.8},
    )
    plot_space_time(
        truth[0, ..., 0],
        {k: p[0, ..., 0] for k, p in predictions.items()},
        os.path.join(args.out, "space_time.png"),
        title="KS test trajectory 0",
        times=lead_times,
    )
    plot_uncertainty(lead_times, spread, rmse, estimated, actual, args.out)
    print(markdown(results))


def plot_uncertainty(lead_times, spread, rmse, estimated, actual, out: str) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.5, 3.6))
    left.semilogy(lead_times, rmse, label="RMSE of a sampled rollout")
    left.semilogy(lead_times, spread, label="spread of the samples (std)")
    left.set_xlabel("time")
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    left.set_title("PDE-Refiner: error and uncertainty")
    right.scatter(actual, estimated, s=12)
    top = max(actual.max(), estimated.max()) * 1.05
    right.plot([0, top], [0, top], color="gray", linestyle="--", linewidth=1)
    right.set_xlabel("true high-correlation time")
    right.set_ylabel("estimated from the samples")
    right.set_title("per test trajectory (threshold 0.8)")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "uncertainty.png"), dpi=80)
    plt.close(fig)


def markdown(results: dict) -> str:
    lines = [
        f"Rollouts of {results['steps']} model steps (dt = {results['model_dt']:g}) from the "
        f"first state of {results['test_trajectories']} test trajectories.",
        "",
        "| model | corr > 0.8 | corr > 0.9 | corr > 0.95 | paper (corr > 0.8) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, m in results["models"].items():
        t = m["high_correlation_time"]
        lines.append(
            f"| {label} | {t['0.8']:.1f} | {t['0.9']:.1f} | {t['0.95']:.1f} | "
            f"~{m['paper_high_correlation_time_0.8']:.0f} |"
        )
    s = results["refiner_sampled"]
    lines += [
        "",
        f"PDE-Refiner, {s['samples']} sampled rollouts: high-correlation time "
        f"{s['high_correlation_time_0.8_mean']:.1f} +- {s['high_correlation_time_0.8_std']:.1f}; "
        f"Pearson r of log spread and log RMSE over time "
        f"{s['log_spread_vs_log_rmse_pearson']:.3f}; of the estimated and true per-trajectory "
        f"times {s['estimated_vs_actual_time_pearson']:.3f}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
