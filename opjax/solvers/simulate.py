"""``simulate(equation, u0, save_times)``: a trajectory of an equation.

The solve is one ``diffrax.diffeqsolve`` of a pseudo-spectral
:class:`~opjax.solvers.equations.base.SemiLinearEquation` (ETDRK4 by default) or an
:class:`~opjax.solvers.equations.explicit.ExplicitEquation` (forward Euler by default),
stepping with ``dt`` and landing exactly on every save time (``diffrax.StepTo``), so saved
states are solver states, not interpolations. Any diffrax solver works through the
equation's vector field (pass ``solver`` and ``stepsize_controller``, e.g. ``Tsit5`` with
a ``PIDController``), and IMEX solvers (``KenCarp4``) get a semilinear equation's split
into an explicit nonlinear and an implicit linear term.
It runs under ``jit``, ``vmap`` and ``grad``; ``adjoint`` selects how gradients are
computed (default: recursive checkpointing).
"""

from __future__ import annotations

import math

import diffrax
import jax
import numpy as np

from opjax.solvers.equations.base import SemiLinearEquation
from opjax.solvers.equations.explicit import ExplicitEquation


def step_times(t0: float, save_times: np.ndarray, dt: float) -> np.ndarray:
    """``t0, t0 + dt, ...`` up to the last save time, with every save time included."""
    save_times = np.asarray(save_times, np.float64)
    n = math.ceil((save_times[-1] - t0) / dt - 1e-9)
    grid = t0 + dt * np.arange(n + 1)
    times = np.union1d(np.minimum(grid, save_times[-1]), save_times)
    keep = np.concatenate([[True], np.diff(times) > 1e-9 * dt])  # merge near-duplicates
    return times[keep]


def simulate(
    equation: SemiLinearEquation | ExplicitEquation,
    u0: jax.Array,
    save_times,
    *,
    dt: float | None = None,
    t0: float = 0.0,
    solver: diffrax.AbstractSolver | None = None,
    stepsize_controller: diffrax.AbstractStepSizeController | None = None,
    adjoint: diffrax.AbstractAdjoint | None = None,
    max_steps: int | None = None,
) -> jax.Array:
    """The fields at ``save_times``: ``[len(save_times), *u0.shape]`` for one field
    ``u0 [*grid.shape]``, ``[*batch, len(save_times), *grid.shape]`` for a batch.

    Args:
        equation: the PDE.
        u0: initial field(s), ``[..., *equation.shape]``.
        save_times: increasing times ``> t0`` (concrete values).
        dt: the step (required unless an adaptive ``stepsize_controller`` is given).
        solver: default ``equation.default_solver(dt)``.
    """
    shape = equation.shape
    rank = len(shape)
    if u0.shape[u0.ndim - rank :] != shape:
        raise ValueError(f"u0 of shape {u0.shape} does not end in the grid shape {shape}")
    if u0.ndim > rank:
        batch = u0.shape[: u0.ndim - rank]
        flat = u0.reshape(-1, *shape)
        solve_one = lambda u: simulate(  # noqa: E731
            equation,
            u,
            save_times,
            dt=dt,
            t0=t0,
            solver=solver,
            stepsize_controller=stepsize_controller,
            adjoint=adjoint,
            max_steps=max_steps,
        )
        out = jax.vmap(solve_one)(flat)
        return out.reshape(*batch, *out.shape[1:])
    save_times = np.asarray(save_times, np.float64)
    if save_times.ndim != 1 or np.any(np.diff(save_times) <= 0) or save_times[0] <= t0:
        raise ValueError(f"save_times must increase and start after t0={t0}; got {save_times}")
    if stepsize_controller is None:
        if dt is None:
            raise ValueError("simulate needs dt (or an adaptive stepsize_controller)")
        times = step_times(t0, save_times, dt)
        stepsize_controller = diffrax.StepTo(ts=times)
        max_steps = max_steps or len(times)
        dt0 = None
    else:
        dt0 = dt
    if solver is None:
        solver = equation.default_solver(dt)
    wants_split = getattr(solver.term_structure, "__origin__", None) is diffrax.MultiTerm
    if wants_split and not isinstance(equation, SemiLinearEquation):
        raise ValueError(
            f"{type(solver).__name__} splits a stiff linear part off, which only a "
            f"SemiLinearEquation has; {type(equation).__name__} is one vector field"
        )
    solution = diffrax.diffeqsolve(
        equation.imex_terms() if wants_split else equation.term(),
        solver,
        t0=t0,
        t1=float(save_times[-1]),
        dt0=dt0,
        y0=u0,
        saveat=diffrax.SaveAt(ts=save_times),
        stepsize_controller=stepsize_controller,
        adjoint=adjoint or diffrax.RecursiveCheckpointAdjoint(),
        max_steps=max_steps or 100_000,
    )
    return solution.ys
