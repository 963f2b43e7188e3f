"""APEBench's 1D physical scenarios (Koehler et al. 2024): the generic semi-linear equation

    u_t = a_1 u_x + a_2 u_xx + a_3 u_xxx + a_4 u_xxxx - b (u^2 / 2)_x

on ``[0, L)``, periodic (:class:`~opjax.solvers.GeneralConvection`), 160 points, a state
every ``dt = 0.1``, from APEBench's default initial condition ``"fourier;5;true;true"``
(:func:`~opjax.solvers.truncated_fourier_series`: wavenumbers 1 to 5, zero mean, maximum
absolute value 1), after ``warmup_steps`` steps of ``dt`` (APEBench's ``num_warmup_steps``).
Solved by ETDRK4 with ``substeps`` steps per saved interval (APEBench's reference stepper
is exponax's ETDRK2 with one step: the two agree to the order of ETDRK2's error).

The scenarios (``datasets/apebench1d_*.toml``): ``phy_adv_diff`` ``a_1 = -0.25``,
``a_2 = 0.008``; ``phy_burgers`` ``a_2 = 0.0003``, ``b = 0.125``; ``phy_ks_cons``
``L = 60``, ``a_2 = -1.44``, ``a_4 = -0.4``, ``b = 3.6``, 500 warm-up steps. APEBench
trains on 50 trajectories of 51 states and tests on 30 of 201.

Fields: ``u [n_times, points]``. No per-sample parameters.
"""

from __future__ import annotations

from opjax.data.generation.problem import (
    Problem,
    etdrk4_solver,
    initial_value_problem,
    periodic_coordinates,
    spaced_times,
)
from opjax.solvers import GeneralConvection, PeriodicGrid, truncated_fourier_series

DEFAULTS = {
    "domain_length": 1.0,
    "points": 160,
    "dt": 0.1,
    "substeps": 1,
    "n_times": 51,
    "warmup_steps": 0,
    "cutoff": 5,
    "a1": 0.0,
    "a2": 0.0,
    "a3": 0.0,
    "a4": 0.0,
    "convection": 0.0,
}


def build(p: dict) -> Problem:
    grid = PeriodicGrid((p["points"],), p["domain_length"])
    coefficients = (0.0, p["a1"], p["a2"], p["a3"], p["a4"])
    equation = GeneralConvection(grid, coefficients, p["convection"])
    step = p["dt"] / p["substeps"]

    def initial_condition(key, dtype):
        return truncated_fourier_series(key, grid, p["cutoff"], dtype)

    return initial_value_problem(
        equation,
        initial_condition,
        "u",
        "u(t, x) on [0, domain_length)",
        params={},
        times=spaced_times(0.0, p["dt"], p["n_times"]),
        dt=step,
        burn_in=p["warmup_steps"] * p["dt"],
        coordinates=periodic_coordinates(p["points"], p["domain_length"], ("x",)),
        solver=etdrk4_solver(step, p["points"]),
    )
