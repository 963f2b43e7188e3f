"""Viscous Burgers in 1D, the FNO paper's dataset (Li et al. 2021, section 5.1).

``u_t + (u^2 / 2)_x = nu u_xx`` on ``[0, 1)``, periodic; ``u0`` a Gaussian random field
with covariance ``sigma^2 (-Laplacian + tau^2)^(-alpha)`` (``alpha = 2.5, tau = 7,
sigma = 49``, as in neuraloperator's ``gen_burgers1.m``); ``nu = 0.1`` by default (that
script uses ``1e-3``, which forms shocks and needs the 8192-point solver grid); saved at
``n_times`` equally spaced times in ``[0, t_end]``, so ``u[0]`` is the input and ``u[-1]``
the paper's target ``u(., 1)``. Solved by ETDRK4 with step ``dt`` on ``solver_points``
points (``dt = 1e-3`` is within 1e-9 relative of a 4x smaller step in float64) and stored
on every ``solver_points / points``-th point (the paper solved on 8192 points and
subsampled).

Fields: ``u [n_times, points]``. Params: ``viscosity``.
"""

from __future__ import annotations

from opjax.data.generation.problem import (
    Problem,
    etdrk4_solver,
    initial_value_problem,
    periodic_coordinates,
    periodic_solver_grid,
    saved_times,
)
from opjax.solvers import Burgers, gaussian_random_field

DEFAULTS = {
    "domain_length": 1.0,
    "viscosity": 0.1,
    "points": 1024,
    "solver_points": 8192,
    "t_end": 1.0,
    "n_times": 11,
    "dt": 1e-3,
    "alpha": 2.5,
    "tau": 7.0,
    "sigma": 49.0,
}


def build(p: dict) -> Problem:
    grid, stride = periodic_solver_grid(p, rank=1)
    times = saved_times(p["t_end"], p["n_times"])

    def initial_condition(key, dtype):
        return gaussian_random_field(key, grid, p["alpha"], p["tau"], p["sigma"], dtype)

    return initial_value_problem(
        Burgers(grid, p["viscosity"]),
        initial_condition,
        "u",
        "velocity u(t, x)",
        params={"viscosity": p["viscosity"]},
        times=times,
        dt=p["dt"],
        stride=stride,
        coordinates=periodic_coordinates(p["points"], p["domain_length"], ("x",)),
        solver=etdrk4_solver(p["dt"], p["solver_points"]),
    )
