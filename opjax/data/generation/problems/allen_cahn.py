"""Allen-Cahn phase separation in 2D.

``u_t = eps^2 Laplacian u + u - u^3`` on ``[0, 2 pi)^2``, periodic; ``eps = 0.1``;
``u0`` a Gaussian random field (``alpha = 2, tau = 3``) rescaled to standard deviation
``init_std = 0.5``; solved on 128 x 128 points (about three points across an interface,
whose width is about ``sqrt(2) eps``) and stored on 64 x 64; ``n_times`` states on
``[0, t_end]``. The uniform states ``+-1`` are stable; the
solution coarsens into regions near ``+-1``. Solved by ETDRK4 with step ``dt``.

Fields: ``u [n_times, points, points]``. Params: ``epsilon``.
"""

from __future__ import annotations

from opjax.data.generation.problem import (
    Problem,
    etdrk4_solver,
    initial_value_problem,
    periodic_coordinates,
    periodic_solver_grid,
    saved_times,
    standardised_random_field,
)
from opjax.solvers import AllenCahn

DEFAULTS = {
    "epsilon": 0.1,
    "domain_length": 6.283185307179586,
    "points": 64,
    "solver_points": 128,
    "t_end": 10.0,
    "n_times": 21,
    "dt": 0.01,
    "alpha": 2.0,
    "tau": 3.0,
    "init_std": 0.5,
}


def build(p: dict) -> Problem:
    grid, stride = periodic_solver_grid(p, rank=2)
    times = saved_times(p["t_end"], p["n_times"])

    def initial_condition(key, dtype):
        return standardised_random_field(key, grid, p["alpha"], p["tau"], p["init_std"], dtype)

    return initial_value_problem(
        AllenCahn(grid, p["epsilon"]),
        initial_condition,
        "u",
        "order parameter u(t, x, y)",
        params={"epsilon": p["epsilon"]},
        times=times,
        dt=p["dt"],
        stride=stride,
        coordinates=periodic_coordinates(p["points"], p["domain_length"], ("x", "y")),
        solver=etdrk4_solver(p["dt"], p["solver_points"]),
    )
