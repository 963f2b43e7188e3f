"""Trajectory errors of a reduced-order model, as Phi-ROM reports them.

For each test trajectory ``u [T, *space, C]`` saved at ``times [T]``: the initial latent
is fitted to ``u[0]`` (on the whole grid, or on a random ``observed_fraction`` of its
points: a sparse initial condition), the latent ODE is integrated to every saved time and
decoded on the grid (:mod:`opjax.runs.reduced_order_inference`), and

    e[t, c] = ||pred[t, ..., c] - u[t, ..., c]||_2 / ||u[t, ..., c]||_2

(norms over space; Phi-ROM's ``normalized_mse``, which is this relative L2). The summary
splits the time axis at the training horizon ``H`` (the states per training trajectory):
``l2`` is the mean of ``e`` over ``t < H`` (``t = 0``, the fitted state, included) and
``l2_extrapolation`` over ``t >= H``.
"""

from __future__ import annotations

import math
import os

import jax
import jax.numpy as jnp
import numpy as np

from opjax.data.sample import Sample
from opjax.evaluation.plots import plot_curves, plot_samples, plot_space_time
from opjax.models.phirom import PhiROM
from opjax.runs.reduced_order_inference import (
    decoded_trajectory,
    fit_initial_latent,
    observed_points,
)


def trajectory_predictions(
    model: PhiROM,
    variables: dict,
    test: Sample,
    grid: np.ndarray,
    times: np.ndarray,
    *,
    batch_size: int = 32,
    steps: int = 300,
    learning_rate: float = 0.1,
    observed_fraction: float = 1.0,
) -> np.ndarray:
    """``[n, T, *space, C]``: the predicted trajectories of ``test`` (``x [n, *space, C]``
    the initial states, ``params [n, p]`` if the model takes them) on ``grid
    [*space, d]``, in batches of ``batch_size`` (the last one padded)."""
    n = len(test["x"])
    d = grid.shape[-1]
    flat_grid = jnp.asarray(grid.reshape(-1, d), jnp.float32)
    n_points = flat_grid.shape[0]
    n_observed = max(1, math.floor(observed_fraction * n_points))
    out = []
    for first in range(0, n, batch_size):
        rows = np.minimum(np.arange(first, first + batch_size), n - 1)
        u0 = jnp.asarray(test["x"][rows].reshape(batch_size, n_points, -1))
        seen = jnp.broadcast_to(jnp.arange(n_points), (batch_size, n_points))
        if n_observed < n_points:
            seen = observed_points(jnp.asarray(rows) + 2**20, n_points, n_observed)
        coords = flat_grid[seen]
        values = jnp.take_along_axis(u0, seen[..., None], axis=1)
        latent0 = fit_initial_latent(model, variables, coords, values, steps, learning_rate)
        z = None if "params" not in test else jnp.asarray(test["params"][rows])
        whole = jnp.broadcast_to(flat_grid, (batch_size, n_points, d))
        pred = decoded_trajectory(model, variables, latent0, jnp.asarray(times), whole, z)
        out.append(np.asarray(jax.device_get(pred))[: min(batch_size, n - first)])
    predictions = np.concatenate(out)
    return predictions.reshape(n, len(times), *grid.shape[:-1], -1)


def relative_errors(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """``e [n, T, C]`` of ``pred, true [n, T, *space, C]`` (module docstring)."""
    n, t, c = true.shape[0], true.shape[1], true.shape[-1]
    diff = (pred - true).reshape(n, t, -1, c)
    return np.linalg.norm(diff, axis=2) / np.linalg.norm(true.reshape(n, t, -1, c), axis=2)


def summarize_trajectory_errors(errors: np.ndarray, horizon: int) -> dict[str, float]:
    """``{"l2": mean e[:, :horizon], "l2_extrapolation": mean e[:, horizon:]}`` (the second
    only when the trajectories go beyond the horizon)."""
    summary = {"l2": float(np.mean(errors[:, :horizon]))}
    if errors.shape[1] > horizon:
        summary["l2_extrapolation"] = float(np.mean(errors[:, horizon:]))
    return summary


def evaluate_trajectories(
    model: PhiROM,
    variables: dict,
    test: Sample,
    grid: np.ndarray,
    times: np.ndarray,
    horizon: int,
    settings: dict,
    batch_size: int,
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """``(pred [n, T, *space, C], e [n, T, C], summary)`` of a test set, with a recipe's
    ``[reduced_order]`` ``settings`` for the fit of the initial latent."""
    pred = trajectory_predictions(
        model,
        variables,
        test,
        grid,
        times,
        batch_size=batch_size,
        steps=settings["inversion_steps"],
        learning_rate=settings["inversion_lr"],
        observed_fraction=settings["inversion_fraction"],
    )
    errors = relative_errors(pred, test["y"])
    return pred, errors, summarize_trajectory_errors(errors, horizon)


def plot_trajectories(
    times: np.ndarray,
    errors: np.ndarray,
    truth: np.ndarray,
    pred: np.ndarray,
    horizon: int,
    report_dir: str,
    name: str,
) -> None:
    """``trajectory_errors_{name}.png`` (the relative L2 per saved time, mean over the test
    trajectories, the training horizon dashed) and the first trajectory: 1D, a space-time
    image ``spacetime_{name}.png``; else its first and last states ``samples_{name}.png``.
    ``errors [n, T, C]``, ``truth, pred [n, T, *space, C]``."""
    plot_curves(
        times,
        {"relative L2 error": errors.mean(axis=(0, 2))},
        os.path.join(report_dir, f"trajectory_errors_{name}.png"),
        title=f"{name}: mean over {len(errors)} trajectories; training horizon t = "
        f"{times[min(horizon, len(times)) - 1]:g}",
        xlabel="time",
        vertical_lines=[float(times[horizon - 1])] if horizon < len(times) else None,
    )
    if truth.ndim == 4:  # [n, T, x, C]
        plot_space_time(
            truth[0, ..., 0],
            pred[0, ..., 0],
            os.path.join(report_dir, f"spacetime_{name}.png"),
            title=f"{name}: first trajectory",
            times=times,
        )
    else:
        plot_samples(
            truth[:1, 0],
            truth[:1, -1],
            pred[:1, -1],
            os.path.join(report_dir, f"samples_{name}.png"),
            title=f"{name}: first trajectory, initial state and t = {times[-1]:g}",
        )
