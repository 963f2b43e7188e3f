"""2D diffusion with zero Dirichlet boundaries from Gaussian bumps, Phi-ROM's 2D problem
(Hosseini Dashtbayaz et al. 2025).

``u_t = D (u_xx + u_yy)`` on ``points x points`` interior nodes with spacing ``spacing``,
``u = 0`` on the boundary, by the 5-point Laplacian
(:class:`~opjax.solvers.DirichletDiffusion2D`) and forward Euler with step ``dt``;
``n_times`` states ``t_k = k dt`` are saved, padded with the boundary ring
(``[points + 2, points + 2]``, nodes from ``-(points + 1) / 2`` to ``(points + 1) / 2``
times the spacing: the reference's 42 x 42 layout with coordinates to +-20.5).

Initial condition, per sample (the reference's draws, in its order): ``sigma ~
U(sigma_low, sigma_high)``, centre ``(x_m, y_m)`` integers (in length units, whatever the
spacing) uniform in ``[-centre_range, centre_range)``, ``A ~ U(amplitude_low, amplitude_high)``, and
``u0 = A exp(-((x - x_m)^2 + (y - y_m)^2) / (2 sigma^2))`` on the interior nodes.
Reference: ``D = 2``, ``dt = 0.1``, 40 x 40, ``sigma ~ U(3, 10)``, centres in
``[-12, 12)``, ``A ~ U(0.5, 2)``; it trains on the first 25 states of 100 trajectories and
tests on 50 states.

Fields: ``u [n_times, points + 2, points + 2]`` (axes ``y, x``). Params: ``diffusivity``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from opjax.data.generation.problem import Problem, spaced_times, state_rate, trajectory
from opjax.solvers import DirichletDiffusion2D

DEFAULTS = {
    "diffusivity": 2.0,
    "points": 40,
    "spacing": 1.0,
    "dt": 0.1,
    "n_times": 50,
    "sigma_low": 3.0,
    "sigma_high": 10.0,
    "centre_range": 12,
    "amplitude_low": 0.5,
    "amplitude_high": 2.0,
}


def build(p: dict) -> Problem:
    equation = DirichletDiffusion2D(p["diffusivity"], p["points"], p["spacing"])
    times = spaced_times(0.0, p["dt"], p["n_times"])
    nodes = equation.coordinates()

    def sample(key):
        dtype = jnp.result_type(float)
        k_sigma, k_x, k_y, k_amplitude = jax.random.split(key, 4)
        sigma = jax.random.uniform(k_sigma, (), dtype, p["sigma_low"], p["sigma_high"])
        r = p["centre_range"]
        x_m = jax.random.randint(k_x, (), -r, r).astype(dtype)
        y_m = jax.random.randint(k_y, (), -r, r).astype(dtype)
        amplitude = jax.random.uniform(
            k_amplitude, (), dtype, p["amplitude_low"], p["amplitude_high"]
        )
        y, x = jnp.meshgrid(jnp.asarray(nodes, dtype), jnp.asarray(nodes, dtype), indexing="ij")
        bump = amplitude * jnp.exp(-((x - x_m) ** 2 + (y - y_m) ** 2) / (2 * sigma**2))
        u0 = jnp.zeros_like(bump).at[1:-1, 1:-1].set(bump[1:-1, 1:-1])
        return {
            "fields/u": trajectory(equation, u0, times, p["dt"]),
            "params/diffusivity": jnp.asarray(p["diffusivity"], dtype),
        }

    return Problem(
        sample=sample,
        coordinates={"y": nodes, "x": nodes},
        times=times,
        time_dependent=frozenset({"u"}),
        descriptions={"u": "concentration u(t, y, x), boundary ring included"},
        solver={
            "scheme": "5-point finite differences, forward Euler",
            "dt": p["dt"],
            "solver_points": p["points"],
        },
        field_rate=state_rate(equation),
    )
