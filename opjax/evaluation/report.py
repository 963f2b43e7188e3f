"""A run's report: the Markdown table of its errors and the plots of its rollouts.

:func:`markdown_table` formats the results of :func:`opjax.workflows.evaluate.evaluate_run`;
:func:`plot_rollout` draws a rollout's error and correlation curves, energy spectra and
(1D) space-time images.
"""

from __future__ import annotations

import os

from opjax.evaluation.plots import plot_curves, plot_space_time, plot_spectra
from opjax.evaluation.rollout_evaluation import RolloutResult
from opjax.metrics.spectra import energy_spectrum


def plot_rollout(outcome: RolloutResult, report_dir: str, name: str) -> None:
    """``rollout_{name}.png``, ``spectra_{name}.png`` and (1D) ``spacetime_{name}.png``
    under ``report_dir``."""
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


def trajectory_table(results: dict[str, dict]) -> str:
    """A reduced-order run's report: relative L2 inside the training horizon and beyond."""
    lines = [
        "| test set | resolution | samples | states (horizon) | in-horizon L2 | extrapolation L2 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in results.items():
        res = "x".join(str(n) for n in r["resolution"])
        beyond = r.get("l2_extrapolation")
        beyond = "-" if beyond is None else f"{beyond:.4f}"
        lines.append(
            f"| {name} | {res} | {r['n']} | {len(r['times'])} ({r['horizon']}) | "
            f"{r['l2']:.4f} | {beyond} |"
        )
    return "\n".join(lines) + "\n"


def markdown_table(results: dict[str, dict]) -> str:
    if any("horizon" in r for r in results.values()):
        return trajectory_table(results)
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
