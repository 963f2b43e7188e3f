"""What a dataset recipe's ``problem`` builds: how to draw one sample, and the layout.

A problem module (one per file in :mod:`opjax.data.generation.problems`) has ``DEFAULTS``,
its parameters with their default values, and ``build(parameters) -> Problem``. The
writer draws samples in chunks with ``jit(vmap(problem.sample))`` over per-sample keys.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import numpy as np

from opjax.solvers.simulate import simulate


@dataclasses.dataclass(frozen=True)
class Problem:
    """One dataset generator.

    Attributes:
        sample: ``key -> {"fields/<name>": array, "params/<name>": scalar, ...}`` for one
            sample; every entry becomes a dataset ``[n, *shape]`` of the HDF5 file (see
            :mod:`opjax.data.formats.opjax_h5`). Pure, so it can be jitted and vmapped.
        coordinates: static grid points per axis name, ``[n_points]`` each.
        times: the saved times ``[n_times]``, or None for a steady problem.
        time_dependent: the field names whose first axis is time.
        descriptions: one line per field (stored as its ``description`` attribute).
        solver: solver settings stored as attributes of ``/solver``.
    """

    sample: Callable[[jax.Array], dict[str, jax.Array]]
    coordinates: dict[str, np.ndarray]
    times: np.ndarray | None
    time_dependent: frozenset[str]
    descriptions: dict[str, str]
    solver: dict[str, float | int | str]


def saved_times(t_end: float, n_times: int, t_start: float = 0.0) -> np.ndarray:
    """``n_times`` equally spaced times from ``t_start`` to ``t_end``, both included."""
    if n_times < 2 or t_end <= t_start:
        raise ValueError(f"need n_times >= 2 and t_end > {t_start}; got {n_times}, {t_end}")
    return np.linspace(t_start, t_end, n_times)


def subsample_stride(solver_points: int, points: int) -> int:
    """How many solver points per stored point (the solver grid must refine the stored one)."""
    if solver_points % points:
        raise ValueError(
            f"parameters.solver_points = {solver_points} is not a multiple of "
            f"parameters.points = {points}"
        )
    return solver_points // points


def trajectory(equation, u0: jax.Array, times: np.ndarray, dt: float, stride: int = 1):
    """``[n_times, *space]``: ``u0`` (at ``times[0]``) and ETDRK4 solutions at the other
    times, every ``stride``-th grid point along each axis."""
    later = simulate(equation, u0, times[1:], dt=dt, t0=float(times[0]))
    u = jax.numpy.concatenate([u0[None], later], axis=0)
    index = (slice(None),) + (slice(None, None, stride),) * (u.ndim - 1)
    return u[index]
