"""PNG plots of predictions: input, truth, prediction and error for a few samples."""

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
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
