"""Linear advection in 1D, PDEBench's ``1D_Advection`` setting (Takamoto et al. 2022).

``u_t + beta u_x = 0`` on ``[0, 1)``, periodic; ``beta = 0.4`` (PDEBench: 0.1, 0.4, 1,
4); ``u0 = sum_{i=1}^{2} A_i sin(2 pi m_i x + phi_i)``, ``m_i`` integers in ``[1, 8]``,
``A_i ~ U[-1, 1]``, ``phi_i ~ U[0, 2 pi]``; 201 states on ``[0, 2]``. The linear part is
integrated exactly (ETDRK), so the solution is the exact shift ``u0(x - beta t)`` up to
round-off. (PDEBench also applies random window masks and absolute values to some
initial conditions; those are not reproduced.)

Fields: ``u [n_times, points]``. Params: ``velocity``.
"""

from __future__ import annotations

from opjax.data.generation.problem import (
    Problem,
    initial_value_problem,
    periodic_coordinates,
    saved_times,
)
from opjax.solvers import Advection, PeriodicGrid, random_fourier_series

DEFAULTS = {
    "velocity": 0.4,
    "domain_length": 1.0,
    "points": 1024,
    "t_end": 2.0,
    "n_times": 201,
    "n_terms": 2,
    "max_frequency": 8,
    "amplitude": 1.0,
}


def build(p: dict) -> Problem:
    grid = PeriodicGrid((p["points"],), p["domain_length"])
    times = saved_times(p["t_end"], p["n_times"])
    dt = float(times[1] - times[0])

    def initial_condition(key, dtype):
        return random_fourier_series(
            key, grid, p["n_terms"], p["max_frequency"], p["amplitude"], dtype
        )

    return initial_value_problem(
        Advection(grid, (p["velocity"],)),
        initial_condition,
        "u",
        "advected scalar u(t, x)",
        params={"velocity": p["velocity"]},
        times=times,
        dt=dt,
        coordinates=periodic_coordinates(p["points"], p["domain_length"], ("x",)),
        solver={"scheme": "exact exponential of the linear part (ETDRK4)", "dt": dt},
    )
