"""2D Kolmogorov flow: incompressible Navier-Stokes in vorticity form with sinusoidal forcing.

``omega_t + u . grad omega = nu Laplacian omega - drag omega - n A cos(n y)`` on
``[0, 2 pi)^2``, periodic (the forcing drives ``(A sin(n y), 0)``); ``nu = 1e-3``,
``drag = 0.1``, ``n = 4``, ``A = 1`` (the setting of Kochkov et al. 2021 with drag).
``omega_0`` a Gaussian random field (``alpha = 2.5, tau = 7``) rescaled to standard
deviation ``init_std``; the first ``burn_in`` time units are discarded so that the
saved states are developed turbulence; ``n_times`` states ``save_dt`` apart. Solved by
ETDRK4 with step ``dt`` on ``solver_points^2`` points, stored on ``points^2``.

Fields: ``vorticity [n_times, points, points]``. Params: ``viscosity``.
"""

from __future__ import annotations

from opjax.data.generation.problem import (
    Problem,
    etdrk4_solver,
    initial_value_problem,
    periodic_coordinates,
    periodic_solver_grid,
    spaced_times,
    standardised_random_field,
)
from opjax.solvers import NavierStokes2D

DEFAULTS = {
    "viscosity": 1e-3,
    "drag": 0.1,
    "forcing_wavenumber": 4,
    "forcing_amplitude": 1.0,
    "domain_length": 6.283185307179586,
    "points": 64,
    "solver_points": 128,
    "burn_in": 5.0,
    "save_dt": 0.2,
    "n_times": 50,
    "dt": 0.005,
    "alpha": 2.5,
    "tau": 7.0,
    "init_std": 3.0,
}


def build(p: dict) -> Problem:
    grid, stride = periodic_solver_grid(p, rank=2)
    equation = NavierStokes2D(
        grid,
        viscosity=p["viscosity"],
        drag=p["drag"],
        forcing_amplitude=p["forcing_amplitude"],
        forcing_wavenumber=p["forcing_wavenumber"],
    )

    def initial_condition(key, dtype):
        return standardised_random_field(key, grid, p["alpha"], p["tau"], p["init_std"], dtype)

    return initial_value_problem(
        equation,
        initial_condition,
        "vorticity",
        "vorticity omega(t, x, y)",
        params={"viscosity": p["viscosity"]},
        times=spaced_times(p["burn_in"], p["save_dt"], p["n_times"]),
        dt=p["dt"],
        stride=stride,
        burn_in=p["burn_in"],
        coordinates=periodic_coordinates(p["points"], p["domain_length"], ("x", "y")),
        solver=etdrk4_solver(p["dt"], p["solver_points"]),
    )
