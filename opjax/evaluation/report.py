"""Evaluate a run directory on test files and write its report.

``evaluate_run(run_dir)`` computes neuraloperator's relative L2 and H1 errors (mean over
the samples of a file) for each test file and writes ``report/metrics.json``,
``report/metrics.md`` and ``report/samples_<name>.png``.
"""

from __future__ import annotations

import json
import os

from opjax.data.formats import read_dataset
from opjax.evaluation.evaluate import make_error_fn, per_sample_errors, summarize
from opjax.evaluation.plots import plot_samples
from opjax.load import load
from opjax.training import run_dir as rd
from opjax.training.sharding import batch_sharding, data_mesh


def evaluate_run(
    run_dir: str,
    data: dict[str, str] | None = None,
    checkpoint: str = "latest",
    batch_size: int = 32,
    n_plot: int = 4,
) -> dict[str, dict]:
    """Errors per test file ``{name: {"l2", "h1", "n", "resolution"}}``; writes the report.

    Args:
        run_dir: a run directory.
        data: test files by name (every sample); default: the recipe's ``data.test``
            (its first ``data.n_test`` samples, as evaluated during training).
        checkpoint: ``"latest"`` or ``"best"``.
    """
    run = load(run_dir, checkpoint)
    config = rd.read_config(run_dir)
    data_cfg = config["data"]
    files = data or data_cfg["test"]
    n_samples = None if data else (data_cfg.get("n_test") or None)
    error_fn = make_error_fn(run.model, run.normalizer, run.card.get("h1_periodic", True))
    mesh = data_mesh()
    sharding = batch_sharding(mesh) if batch_size % mesh.devices.size == 0 else None
    report_dir = os.path.join(run_dir, rd.REPORT)
    results = {}
    for name, path in files.items():
        sample = read_dataset(
            data_cfg["format"],
            path,
            x_key=data_cfg["x_key"],
            y_key=data_cfg["y_key"],
            n_samples=n_samples,
        )
        errors, preds = per_sample_errors(
            error_fn, run.params, sample, batch_size, sharding, keep_predictions=n_plot
        )
        results[name] = {
            **summarize(errors),
            "n": len(sample["x"]),
            "resolution": list(sample["x"].shape[1:-1]),
            "file": os.path.abspath(path),
        }
        plot_samples(
            sample["x"][:n_plot],
            sample["y"][:n_plot],
            preds,
            os.path.join(report_dir, f"samples_{name}.png"),
            title=f"{os.path.basename(run_dir.rstrip('/'))}: {name}",
        )
    rd.atomic_write(os.path.join(report_dir, "metrics.json"), json.dumps(results, indent=2) + "\n")
    rd.atomic_write(os.path.join(report_dir, "metrics.md"), markdown_table(results))
    return results


def markdown_table(results: dict[str, dict]) -> str:
    lines = [
        "| test set | resolution | samples | relative L2 | relative H1 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, r in results.items():
        res = "x".join(str(n) for n in r["resolution"])
        lines.append(f"| {name} | {res} | {r['n']} | {r['l2']:.4f} | {r['h1']:.4f} |")
    return "\n".join(lines) + "\n"


__all__ = ["evaluate_run", "markdown_table"]
