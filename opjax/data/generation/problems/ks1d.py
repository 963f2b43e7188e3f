"""Kuramoto-Sivashinsky in 1D, PDE-Refiner's dataset (Lippe et al. 2023, after LPSDA).

``u_t + (u^2 / 2)_x + u_xx + u_xxxx = 0`` on ``[0, L)``, periodic, with ``L`` drawn per
trajectory from ``U[(1 - j) L0, (1 + j) L0]`` (``L0 = 64``, ``j = 0.1``); 256 points;
``u0 = sum_{i=1}^{10} A_i sin(2 pi l_i x / L + phi_i)``, ``A_i ~ U[-0.5, 0.5]``,
``l_i in {1, 2}`` (``max_frequency = 2``, the LPSDA generator's choice), ``phi_i ~
U[0, 2 pi]``; saved every ``save_dt = 0.2`` (PDE-Refiner jitters this spacing slightly; here
it is exact) for ``n_times`` states, after discarding the first ``burn_in`` time units.
Solved by ETDRK4 with internal step ``dt`` (0.05: 4 steps per saved state).
PDE-Refiner used 2048 training trajectories of 140 states and 128 test trajectories of 640.

Fields: ``u [n_times, points]``. Params: ``domain_length``, which the solver's ``field_rate``
and ``stepper`` take. Coordinates: ``x`` per
sample, ``[points]`` (the domain varies).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from opjax.data.generation.problem import (
    Problem,
    burned_in,
    equation_rate,
    etdrk4_solver,
    spaced_times,
    trajectory,
    trajectory_problem,
)
from opjax.solvers import KuramotoSivashinsky, PeriodicGrid, random_fourier_series

DEFAULTS = {
    "domain_length": 64.0,
    "domain_jitter": 0.1,
    "points": 256,
    "n_times": 140,
    "save_dt": 0.2,
    "burn_in": 0.0,
    "dt": 0.05,
    "n_terms": 10,
    "max_frequency": 2,
    "amplitude": 0.5,
}


def build(p: dict) -> Problem:
    grid = PeriodicGrid((p["points"],), p["domain_length"])
    times = spaced_times(p["burn_in"], p["save_dt"], p["n_times"])

    def sample(key):
        dtype = jnp.result_type(float)
        k_length, k_init = jax.random.split(key)
        jitter = p["domain_jitter"]
        scale = jax.random.uniform(k_length, (), dtype, 1.0 - jitter, 1.0 + jitter)
        length = p["domain_length"] * scale
        # The random series is drawn on the reference grid: in units of x / L it is the same
        # function on every domain.
        u0 = random_fourier_series(
            k_init, grid, p["n_terms"], p["max_frequency"], p["amplitude"], dtype
        )
        equation = KuramotoSivashinsky(grid, domain_length=length)
        u0 = burned_in(equation, u0, p["burn_in"], p["dt"])
        u = trajectory(equation, u0, times, p["dt"])
        x = jnp.arange(p["points"], dtype=dtype) * (length / p["points"])
        return {"fields/u": u, "params/domain_length": length, "coordinates/x": x}

    def equation(params):
        return KuramotoSivashinsky(grid, domain_length=params[0])

    problem = trajectory_problem(
        sample,
        "u",
        "u(t, x) on [0, domain_length)",
        coordinates={},
        times=times,
        solver=etdrk4_solver(p["dt"], p["points"]),
    )
    return dataclasses.replace(
        problem,
        field_rate=equation_rate(equation),
        rate_params=("domain_length",),
        equation=equation,
        dt=p["dt"],
    )
