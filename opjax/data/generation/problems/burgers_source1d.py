"""Inviscid Burgers with an exponential source, Phi-ROM's 1D problem (Hosseini Dashtbayaz
et al. 2025, after Rewienski 2003).

``q_t + (q^2 / 2)_x = a exp(mu x)`` on ``[0, L]`` with the inflow ``q(0, t)`` held, by
first-order upwind finite volumes (:class:`~opjax.solvers.UpwindBurgers`) and forward
Euler with step ``dt``; ``n_times`` states ``t_k = k dt`` are saved (the reference: 200
states, ``dt = 0.07``, ``L = 100``, 256 nodes, ``a = 0.02``).

The parameter is swept, not drawn: sample ``i`` of a split of ``n`` has
``mu = mu_low + (mu_high - mu_low) i / (n - 1)``. The reference trains on
``linspace(0.015, 0.03, 8)`` and tests on the 7 midpoints and on ``0.015 - 0.015 / 7`` and
``0.03 + 0.015 / 7`` (``train/phirom_burgers.toml``'s dataset recipe has these splits).

The initial condition is the same for every sample. The reference stores a fixed profile
(about 4.25 at the inflow, a front near ``x = 11.5`` down to about 1.08, then rising to
about 1.74 at ``x = 100``), not a formula; here it is made the way such a profile arises:
from ``q = 1`` with the inflow set to ``inflow``, the equation with ``mu = spin_up_mu`` is
run for ``spin_up_time``, and that state is ``q(x, 0)``.

Fields: ``u [n_times, points]``. Params: ``mu``.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from opjax.data.generation.problem import Problem, spaced_times, trajectory
from opjax.solvers import UpwindBurgers

DEFAULTS = {
    "mu_low": 0.015,
    "mu_high": 0.03,
    "amplitude": 0.02,
    "length": 100.0,
    "points": 256,
    "dt": 0.07,
    "n_times": 200,
    "inflow": 4.25,
    "spin_up_time": 4.2,
    "spin_up_mu": 0.0225,
}


def build(p: dict) -> Problem:
    times = spaced_times(0.0, p["dt"], p["n_times"])

    def equation(mu):
        return UpwindBurgers(mu, p["points"], p["length"], p["amplitude"])

    def initial_condition(dtype):
        flat = jnp.ones(p["points"], dtype).at[0].set(p["inflow"])
        spin_up = np.array([0.0, p["spin_up_time"]])
        return trajectory(equation(p["spin_up_mu"]), flat, spin_up, p["dt"])[-1]

    def sample(key, fraction):
        del key
        dtype = jnp.result_type(float)
        mu = p["mu_low"] + (p["mu_high"] - p["mu_low"]) * fraction.astype(dtype)
        u = trajectory(equation(mu), initial_condition(dtype), times, p["dt"])
        return {"fields/u": u, "params/mu": mu}

    def field_rate(u, params):
        return equation(params[0]).vector_field(0.0, u[..., 0])[..., None]

    return Problem(
        sample=sample,
        coordinates={"x": equation(p["mu_low"]).coordinates()},
        times=times,
        time_dependent=frozenset({"u"}),
        descriptions={"u": "velocity q(t, x)"},
        solver={
            "scheme": "first-order upwind finite volumes, forward Euler",
            "dt": p["dt"],
            "solver_points": p["points"],
        },
        swept=True,
        field_rate=field_rate,
        rate_params=("mu",),
    )
