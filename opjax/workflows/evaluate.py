"""``evaluate_run(run_dir)``: evaluate a run directory on test files and write its report.

For each test file it computes neuraloperator's relative L2 and H1 errors (mean over the
samples of a file) and the metrics of the benchmark the file comes from (PDEBench, The
Well, Poseidon: :mod:`opjax.metrics.benchmark`); with ``rollout = N``, also the errors,
correlations and spectra of N-step rollouts. It writes ``report/metrics.json``,
``report/metrics.md``, ``report/warnings.json`` (e.g. that training diverged,
:mod:`opjax.evaluation.divergence`) and PNG plots under ``report/``. A reduced-order run
(``phirom``) is evaluated on whole trajectories instead: the relative L2 per saved time,
inside the training horizon and beyond it (:mod:`opjax.evaluation.trajectory_evaluation`);
a mesh model (SPON) in the finite-element L2 and H1 norms with its boundary error, on each
test file's own mesh, its predictions drawn on the mesh.
"""

from __future__ import annotations

import json
import logging
import os

import numpy as np

from opjax.data.formats import detect_format, open_dataset
from opjax.data.splits import read_split
from opjax.evaluation.divergence import divergence_warning
from opjax.evaluation.evaluate import make_error_fn, per_sample_errors, summarize
from opjax.evaluation.mesh_evaluation import make_mesh_error_fn
from opjax.evaluation.mesh_plots import plot_mesh_prediction
from opjax.evaluation.plots import plot_samples
from opjax.evaluation.report import markdown_table, plot_rollout
from opjax.evaluation.rollout_evaluation import evaluate_rollout
from opjax.evaluation.trajectory_evaluation import evaluate_trajectories, plot_trajectories
from opjax.metrics.benchmark import BENCHMARK_FORMATS, benchmark_metrics
from opjax.models.on_mesh import OnMesh
from opjax.models.phirom import PhiROM
from opjax.runs.directory import CONFIG, REPORT, atomic_write, read_metrics
from opjax.runs.loaded_run import load
from opjax.sharding import batch_sharding, data_mesh
from opjax.training.recipe import load_recipe, selection_key
from opjax.workflows.mesh_runs import file_mesh, model_spaces

log = logging.getLogger("opjax.evaluate")

#: The report's list of warnings about the run (JSON), e.g. that training diverged.
WARNINGS = "warnings.json"


def evaluate_run(
    run_dir: str,
    data: dict[str, str] | None = None,
    checkpoint: str = "latest",
    batch_size: int | None = None,
    n_plot: int = 4,
    rollout: int = 0,
) -> dict[str, dict]:
    """Errors per test file ``{name: {"l2", "h1", "n", "resolution"}}``; writes the report.

    Args:
        run_dir: a run directory.
        data: test files by name (every sample); default: the recipe's ``data.test``
            (its first ``data.n_test`` samples, as evaluated during training).
        checkpoint: ``"latest"`` or ``"best"``.
        batch_size: samples per evaluation batch; default: the recipe's
            ``train.eval_batch_size``, so that the program training compiled for its
            evaluation is the one used here.
        rollout: also roll the model out for this many steps from the start of each test
            trajectory (:mod:`opjax.evaluation.rollout_evaluation`): per-step errors and
            correlations under ``"rollout"``, and plots of the error and correlation
            curves, energy spectra and (1D) space-time images.
    """
    run = load(run_dir, checkpoint)
    if not os.path.exists(os.path.join(run_dir, CONFIG)):
        raise FileNotFoundError(
            f"{run_dir} has no {CONFIG}: only a trained run knows its test sets and data keys"
        )
    # Through the recipe schema, so that a config written before a key existed has its default.
    config = load_recipe(os.path.join(run_dir, CONFIG))
    data_cfg = config["data"]
    batch_size = batch_size or config["train"]["eval_batch_size"]
    files = data or data_cfg["test"]
    n_samples = None if data else (data_cfg["n_test"] or None)
    report_dir = os.path.join(run_dir, REPORT)
    if isinstance(run.model, PhiROM):
        results = {
            name: _trajectory_results(run, config, name, path, n_samples, batch_size, report_dir)
            for name, path in files.items()
        }
        return _write_report(run_dir, config, results)
    if isinstance(run.model, OnMesh):
        results = {
            name: _mesh_results(run, data_cfg, name, path, n_samples, batch_size, report_dir)
            for name, path in files.items()
        }
        return _write_report(run_dir, config, results)
    error_fn = make_error_fn(
        run.model,
        run.normalizer,
        run.card.evaluation.h1_periodic,
        run.card.evaluation.channel_groups,
    )
    mesh = data_mesh()
    sharding = batch_sharding(mesh) if batch_size % mesh.devices.size == 0 else None
    results = {}
    for name, path in files.items():
        if data:  # a file named on the command line: its own format, all of it
            data_cfg = {**config["data"], "format": detect_format(path), "test_split": ""}
        sample = read_split(data_cfg, path, n_samples or 0, data_cfg["test_split"])
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
            plot_rollout(outcome, report_dir, name)
    return _write_report(run_dir, config, results)


def _mesh_results(run, data_cfg, name, path, n_samples, batch_size, report_dir) -> dict:
    """A mesh model's finite-element errors on one test file, on the file's own mesh (mesh
    transfer when it is not the training mesh), and its first prediction drawn on the mesh."""
    mesh = file_mesh(data_cfg, path)
    bound = run.on(*model_spaces(run.model.network, mesh, path))
    sample = read_split(data_cfg, path, n_samples or 0, data_cfg["test_split"])
    error_fn = make_mesh_error_fn(bound.model, run.normalizer, mesh.space)
    errors, preds = per_sample_errors(error_fn, run.params, sample, batch_size, None, 1)
    plot_mesh_prediction(
        os.path.join(report_dir, f"samples_{name}.png"),
        mesh.space,
        preds[0, :, 0],
        sample["y"][0, :, 0],
        title=f"{name}: {mesh.domain} {mesh.element}, {mesh.space.n_dofs} DOFs",
    )
    return {
        **summarize(errors),
        "n": len(sample["x"]),
        "resolution": [mesh.space.n_dofs],
        "file": os.path.abspath(path),
    }


def _trajectory_results(
    run, config: dict, name: str, path: str, n_samples: int | None, batch_size: int, report_dir
) -> dict:
    """A reduced-order run on one test file: fit, integrate, decode every trajectory
    (:mod:`opjax.evaluation.trajectory_evaluation`); the errors and plots."""
    data_cfg = config["data"]
    sample = read_split(data_cfg, path, n_samples or 0, data_cfg["test_split"])
    with open_dataset(path, data_cfg["format"]) as file:
        times = np.asarray(file.times, np.float64)[:: data_cfg["window"]["time_step"]]
    horizon = run.model.n_times
    pred, errors, summary = evaluate_trajectories(
        run.model,
        run.params,
        sample,
        run.grid(),
        times,
        horizon,
        config["reduced_order"],
        batch_size,
    )
    plot_trajectories(times, errors, sample["y"], pred, horizon, report_dir, name)
    return {
        **summary,
        "n": len(sample["x"]),
        "resolution": list(sample["x"].shape[1:-1]),
        "file": os.path.abspath(path),
        "horizon": horizon,
        "times": times.tolist(),
        "l2_per_time": errors.mean(axis=(0, 2)).tolist(),
    }


def _write_report(run_dir: str, config: dict, results: dict) -> dict:
    report_dir = os.path.join(run_dir, REPORT)
    atomic_write(os.path.join(report_dir, "metrics.json"), json.dumps(results, indent=2) + "\n")
    warning = divergence_warning(read_metrics(run_dir), selection_key(config))
    warnings = [warning] if warning else []
    atomic_write(os.path.join(report_dir, WARNINGS), json.dumps(warnings) + "\n")
    notes = "".join(f"\n**Warning**: {w}\n" for w in warnings)
    atomic_write(os.path.join(report_dir, "metrics.md"), markdown_table(results) + notes)
    for w in warnings:
        log.warning("%s: %s", run_dir, w)
    return results
