"""Evaluate a run directory on test files and write its report.

``evaluate_run(run_dir)`` computes neuraloperator's relative L2 and H1 errors (mean over
the samples of a file) for each test file, and the metrics of the benchmark the file comes
from (PDEBench, The Well, Poseidon: :mod:`opjax.evaluation.benchmark_metrics`); with
``rollout = N``, also the errors, correlations and spectra of N-step rollouts. It writes
``report/metrics.json``, ``report/metrics.md`` and PNG plots under ``report/``.
"""

from __future__ import annotations

import json
import os

from opjax.data.formats import detect_format
from opjax.evaluation.benchmark_metrics import benchmark_metrics
from opjax.evaluation.evaluate import make_error_fn, per_sample_errors, summarize
from opjax.evaluation.plots import plot_curves, plot_samples, plot_space_time, plot_spectra
from opjax.evaluation.rollout_evaluation import RolloutResult, evaluate_rollout
from opjax.evaluation.spectra import energy_spectrum
from opjax.load import load
from opjax.training import run_dir as rd
from opjax.training.datasets import read_split
from opjax.training.sharding import batch_sharding, data_mesh

# Formats whose benchmark defines its own metrics (see opjax.evaluation.benchmark_metrics).
BENCHMARK_FORMATS = ("pdebench", "the_well", "poseidon")


def evaluate_run(
    run_dir: str,
    data: dict[str, str] | None = None,
    checkpoint: str = "latest",
    batch_size: int = 32,
    n_plot: int = 4,
    rollout: int = 0,
) -> dict[str, dict]:
    """Errors per test file ``{name: {"l2", "h1", "n", "resolution"}}``; writes the report.

    Args:
        run_dir: a run directory.
        data: test files by name (every sample); default: the recipe's ``data.test``
            (its first ``data.n_test`` samples, as evaluated during training).
        checkpoint: ``"latest"`` or ``"best"``.
        rollout: also roll the model out for this many steps from the start of each test
            trajectory (:mod:`opjax.evaluation.rollout_evaluation`): per-step errors and
            correlations under ``"rollout"``, and plots of the error and correlation
            curves, energy spectra and (1D) space-time images.
    """
    run = load(run_dir, checkpoint)
    config = rd.read_config(run_dir)
    data_cfg = config["data"]
    files = data or data_cfg["test"]
    n_samples = None if data else (data_cfg.get("n_test") or None)
    groups = tuple(run.card.get("channel_groups") or ())
    error_fn = make_error_fn(
        run.model,
        run.normalizer,
        run.card.get("h1_periodic", True),
        groups if run.card.get("loss") == "relative_l1" else None,
    )
    mesh = data_mesh()
    sharding = batch_sharding(mesh) if batch_size % mesh.devices.size == 0 else None
    report_dir = os.path.join(run_dir, rd.REPORT)
    results = {}
    for name, path in files.items():
        if data:  # a file named on the command line: its own format, all of it
            data_cfg = {**config["data"], "format": detect_format(path), "test_split": ""}
        sample = read_split(data_cfg, path, n_samples or 0, data_cfg.get("test_split", ""))
        fmt = data_cfg["format"]
        keep = len(sample["x"]) if fmt in BENCHMARK_FORMATS else n_plot
        errors, preds = per_sample_errors(
            error_fn, run.params, sample, batch_size, sharding, keep_predictions=keep
        )
        results[name] = {
            **summarize(errors),
            "n": len(sample["x"]),
            "resolution": list(sample["x"].shape[1:-1]),
            "file": os.path.abspath(path),
        }
        n_space = sample["x"].ndim - 2
        if fmt in BENCHMARK_FORMATS:
            results[name]["benchmark"] = benchmark_metrics(
                fmt, preds, sample["y"], n_spatial_dims=n_space
            )
        plot_samples(
            sample["x"][:n_plot],
            sample["y"][:n_plot],
            preds[:n_plot],
            os.path.join(report_dir, f"samples_{name}.png"),
            title=f"{os.path.basename(run_dir.rstrip('/'))}: {name}",
        )
        if rollout:
            outcome = evaluate_rollout(run, data_cfg, path, rollout, n_samples)
            results[name]["rollout"] = outcome.summary()
            if fmt in BENCHMARK_FORMATS:
                results[name]["rollout"]["benchmark"] = benchmark_metrics(
                    fmt, outcome.prediction, outcome.truth, n_spatial_dims=n_space
                )
            _plot_rollout(outcome, report_dir, name)
    rd.atomic_write(os.path.join(report_dir, "metrics.json"), json.dumps(results, indent=2) + "\n")
    rd.atomic_write(os.path.join(report_dir, "metrics.md"), markdown_table(results))
    return results


def _plot_rollout(outcome: RolloutResult, report_dir: str, name: str) -> None:
    plot_curves(
        outcome.lead_times,
        {"relative L2 error": outcome.l2, "correlation": outcome.correlation},
        os.path.join(report_dir, f"rollout_{name}.png"),
        title=f"{name}: rollout, mean over {len(outcome.truth)} trajectories",
    )
    k, true_spectra = energy_spectrum(outcome.truth.reshape(-1, *outcome.truth.shape[2:]))
    _, pred_spectra = energy_spectrum(outcome.prediction.reshape(-1, *outcome.truth.shape[2:]))
    n_steps = outcome.truth.shape[1]
    shape = (len(outcome.truth), n_steps, len(k))
    true_spectra = true_spectra.sum(axis=-1).reshape(shape).mean(axis=0)
    pred_spectra = pred_spectra.sum(axis=-1).reshape(shape).mean(axis=0)
    steps = sorted({0, n_steps // 2, n_steps - 1})
    plot_spectra(
        k,
        {f"lead time {outcome.lead_times[s]:g}": (true_spectra[s], pred_spectra[s]) for s in steps},
        os.path.join(report_dir, f"spectra_{name}.png"),
        title=f"{name}: energy spectra",
    )
    if outcome.truth.ndim == 4:  # 1D fields: [n, time, x, c]
        plot_space_time(
            outcome.truth[0, ..., 0],
            outcome.prediction[0, ..., 0],
            os.path.join(report_dir, f"spacetime_{name}.png"),
            title=f"{name}: first trajectory",
        )


def markdown_table(results: dict[str, dict]) -> str:
    poseidon = any("relative_l1" in r for r in results.values())
    extra = " Poseidon median relative L1 |" if poseidon else ""
    lines = [
        "| test set | resolution | samples | relative L2 | relative H1 |" + extra,
        "| --- | --- | --- | --- | --- |" + (" --- |" if poseidon else ""),
    ]
    for name, r in results.items():
        res = "x".join(str(n) for n in r["resolution"])
        row = f"| {name} | {res} | {r['n']} | {r['l2']:.4f} | {r['h1']:.4f} |"
        if poseidon:
            row += f" {r.get('relative_l1', float('nan')):.4f} |"
        lines.append(row)
    rollouts = {name: r["rollout"] for name, r in results.items() if "rollout" in r}
    if rollouts:
        lines += [
            "",
            "| test set | rollout steps | model dt | mean L2 | final L2 | "
            "corr > 0.8 | corr > 0.9 | corr > 0.95 |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for name, r in rollouts.items():
            times = " | ".join(f"{r['high_correlation_time'][t]:g}" for t in ("0.8", "0.9", "0.95"))
            lines.append(
                f"| {name} | {r['steps']} | {r['model_dt']:g} | {r['l2_mean']:.4f} | "
                f"{r['l2_final']:.4f} | {times} |"
            )
    for name, r in results.items():
        for title, metrics in (
            ("one step", r.get("benchmark")),
            ("rollout", r.get("rollout", {}).get("benchmark")),
        ):
            if metrics:
                lines += ["", f"| {name} ({title}) | " + " | ".join(metrics) + " |"]
                lines += ["| --- " * (len(metrics) + 1) + "|"]
                lines += ["| | " + " | ".join(f"{v:.4g}" for v in metrics.values()) + " |"]
    return "\n".join(lines) + "\n"


__all__ = ["evaluate_run", "markdown_table"]
