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

import jax.numpy as jnp
import numpy as np

from opjax.data.generation.problem import Problem, saved_times, subsample_stride, trajectory
from opjax.solvers import AllenCahn, PeriodicGrid, gaussian_random_field

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
    n = p["solver_points"]
    grid = PeriodicGrid((n, n), p["domain_length"])
    stride = subsample_stride(n, p["points"])
    times = saved_times(p["t_end"], p["n_times"])
    equation = AllenCahn(grid, p["epsilon"])

    def sample(key):
        dtype = jnp.result_type(float)
        psi = gaussian_random_field(key, grid, p["alpha"], p["tau"], 1.0, dtype)
        u0 = p["init_std"] * psi / jnp.std(psi)
        u = trajectory(equation, u0, times, p["dt"], stride)
        return {"fields/u": u, "params/epsilon": jnp.asarray(p["epsilon"], dtype)}

    axis = np.arange(p["points"]) * (p["domain_length"] / p["points"])
    return Problem(
        sample=sample,
        coordinates={"x": axis, "y": axis},
        times=times,
        time_dependent=frozenset({"u"}),
        descriptions={"u": "order parameter u(t, x, y)"},
        solver={
            "scheme": "ETDRK4 (Cox-Matthews, Kassam-Trefethen contour), 2/3 dealiasing",
            "dt": p["dt"],
            "solver_points": n,
        },
    )
