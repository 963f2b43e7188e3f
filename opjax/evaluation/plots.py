"""PNG plots of predictions: samples (input, truth, prediction, error), error and
correlation curves of rollouts, energy spectra, and space-time images of 1D rollouts."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _field_2d(u: np.ndarray) -> np.ndarray:
    """First channel of ``[*space, c]`` as a 2D image (middle slice of a 3D field)."""
    u = u[..., 0]
    while u.ndim > 2:
        u = u[u.shape[0] // 2]
    return u


def plot_samples(
    x: np.ndarray, y: np.ndarray, pred: np.ndarray, path: str, title: str = ""
) -> None:
    """Plot up to ``len(pred)`` samples: input, truth, prediction, absolute error.

    Args:
        x, y, pred: ``[n, *space, channels]`` (first channel shown); 1D fields are drawn as
            curves, 2D as images, 3D as their middle slice along the first axis.
        path: the PNG to write.
    """
    n = len(pred)
    fig, axes = plt.subplots(n, 4, figsize=(12, 2.8 * n), squeeze=False)
    columns = ("input", "truth", "prediction", "|error|")
    for i in range(n):
        fields = (x[i], y[i], pred[i], np.abs(pred[i] - y[i]))
        for j, (name, u) in enumerate(zip(columns, fields)):
            ax = axes[i, j]
            if u.ndim == 2:
                ax.plot(np.arange(u.shape[0]) / u.shape[0], u[:, 0])
            else:
                image = ax.imshow(
                    _field_2d(u), origin="lower", cmap="magma" if j == 3 else "viridis"
                )
                fig.colorbar(image, ax=ax, fraction=0.046)
                ax.set_xticks([])
                ax.set_yticks([])
            if i == 0:
                ax.set_title(name)
    if title:
        fig.suptitle(title)
    _save(fig, path)


def _save(fig, path: str) -> None:
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_curves(
    times: np.ndarray,
    curves: dict[str, np.ndarray | dict[str, np.ndarray]],
    path: str,
    title: str = "",
    *,
    xlabel: str = "lead time",
    reference_lines: dict[str, float] | None = None,
    vertical_lines: list[float] | None = None,
) -> None:
    """One panel per quantity (e.g. relative L2 error and correlation against lead time).

    A quantity maps to one curve ``[len(times)]``, or to ``{label: curve}`` to compare
    several models in one panel. ``reference_lines`` draws a dashed horizontal line at the
    given value in the panel of that name (e.g. the 0.8 correlation threshold);
    ``vertical_lines`` dashed vertical lines at those times in every panel (e.g. the end of
    the training horizon).
    """
    fig, axes = plt.subplots(1, len(curves), figsize=(4.5 * len(curves), 3.2), squeeze=False)
    for ax, (name, values) in zip(axes[0], curves.items()):
        labelled = values if isinstance(values, dict) else {"": values}
        for label, curve in labelled.items():
            ax.plot(times, curve, marker="." if len(times) < 40 else None, label=label or None)
        if (reference_lines or {}).get(name) is not None:
            ax.axhline(reference_lines[name], color="gray", linestyle="--", linewidth=1)
        for time in vertical_lines or ():
            ax.axvline(time, color="gray", linestyle="--", linewidth=1)
        if isinstance(values, dict):
            ax.legend(fontsize=8)
        ax.set_xlabel(xlabel)
        ax.set_title(name)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    _save(fig, path)


def plot_spectra(
    k: np.ndarray,
    spectra: dict[str, tuple[np.ndarray, np.ndarray]],
    path: str,
    title: str = "",
) -> None:
    """Energy spectra of truth against prediction, one panel per label (e.g. a lead time):
    ``spectra[label] = (E_true [K], E_pred [K])``, drawn on log-log axes without ``k = 0``."""
    fig, axes = plt.subplots(1, len(spectra), figsize=(4 * len(spectra), 3.2), squeeze=False)
    for ax, (label, (truth, pred)) in zip(axes[0], spectra.items()):
        ax.loglog(k[1:], truth[1:], label="truth")
        ax.loglog(k[1:], pred[1:], "--", label="prediction")
        ax.set_xlabel("wavenumber |k|")
        ax.set_title(label)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    _save(fig, path)


def plot_space_time(
    truth: np.ndarray,
    pred: np.ndarray | dict[str, np.ndarray],
    path: str,
    title: str = "",
    *,
    times: np.ndarray | None = None,
) -> None:
    """Space-time images ``[time, x]`` of a 1D trajectory: the truth, each prediction and
    its absolute error.

    Args:
        truth: ``[time, x]``.
        pred: ``[time, x]``, or ``{label: [time, x]}`` to compare several models: the top row
            then shows the truth and every prediction on one colour scale, the bottom row
            each prediction's ``|error|`` on one shared scale.
        times: ``[time]`` for the time axis (default: the step index).
    """
    preds = pred if isinstance(pred, dict) else {"prediction": pred}
    limits = {"vmin": truth.min(), "vmax": truth.max()}
    errors = {label: np.abs(p - truth) for label, p in preds.items()}
    error_limits = {"vmin": 0.0, "vmax": max(e.max() for e in errors.values()), "cmap": "magma"}
    steps = np.arange(len(truth)) if times is None else np.asarray(times)
    extent = (steps[0], steps[-1], 0, truth.shape[1])
    panels = [[("truth", truth, limits)] + [(k, v, limits) for k, v in preds.items()]]
    panels.append([None] + [(f"|error| {k}", e, error_limits) for k, e in errors.items()])
    if not isinstance(pred, dict):  # one prediction: a single row, truth | prediction | error
        panels = [panels[0] + panels[1][1:]]
    rows, columns = len(panels), len(panels[0])
    fig, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3.4 * rows), squeeze=False)
    for row, ax_row in zip(panels, axes):
        for panel, ax in zip(row, ax_row):
            if panel is None:
                ax.axis("off")
                continue
            name, u, kwargs = panel
            image = ax.imshow(u.T, origin="lower", aspect="auto", extent=extent, **kwargs)
            fig.colorbar(image, ax=ax, fraction=0.046)
            ax.set_xlabel("step" if times is None else "time")
            ax.set_ylabel("x (grid index)")
            ax.set_title(name)
    if title:
        fig.suptitle(title)
    _save(fig, path)
