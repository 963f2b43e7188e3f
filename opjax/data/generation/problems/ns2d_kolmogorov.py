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

import jax.numpy as jnp
import numpy as np

from opjax.data.generation.problem import Problem, subsample_stride, trajectory
from opjax.solvers import NavierStokes2D, PeriodicGrid, gaussian_random_field

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
    n = p["solver_points"]
    grid = PeriodicGrid((n, n), p["domain_length"])
    stride = subsample_stride(n, p["points"])
    times = p["burn_in"] + p["save_dt"] * np.arange(p["n_times"])
    equation = NavierStokes2D(
        grid,
        viscosity=p["viscosity"],
        drag=p["drag"],
        forcing_amplitude=p["forcing_amplitude"],
        forcing_wavenumber=p["forcing_wavenumber"],
    )

    def sample(key):
        dtype = jnp.result_type(float)
        psi = gaussian_random_field(key, grid, p["alpha"], p["tau"], 1.0, dtype)
        omega0 = p["init_std"] * psi / jnp.std(psi)
        if p["burn_in"] > 0:
            omega0 = trajectory(equation, omega0, np.array([0.0, p["burn_in"]]), p["dt"])[-1]
        omega = trajectory(equation, omega0, times, p["dt"], stride)
        return {"fields/vorticity": omega, "params/viscosity": jnp.asarray(p["viscosity"], dtype)}

    axis = np.arange(p["points"]) * (p["domain_length"] / p["points"])
    return Problem(
        sample=sample,
        coordinates={"x": axis, "y": axis},
        times=times,
        time_dependent=frozenset({"vorticity"}),
        descriptions={"vorticity": "vorticity omega(t, x, y)"},
        solver={
            "scheme": "ETDRK4 (Cox-Matthews, Kassam-Trefethen contour), 2/3 dealiasing",
            "dt": p["dt"],
            "solver_points": n,
        },
    )
