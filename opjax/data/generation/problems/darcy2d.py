"""2D Darcy flow, the FNO paper's dataset (Li et al. 2021, section 5.2).

``-div(a grad u) = f`` on the unit square, ``u = 0`` on the boundary, ``f = 1``; the
permeability ``a = 12`` where ``psi >= 0`` and ``3`` elsewhere, ``psi`` a Neumann
Gaussian random field with ``alpha = 2, tau = 3`` (:func:`opjax.solvers.cosine_random_field`).
Solved by :class:`opjax.solvers.Darcy2D` (second-order finite volumes, PCG to relative
residual 1e-10 in float64) on ``solver_points^2`` nodes, boundary included, and stored on
every ``(solver_points - 1) / (points - 1)``-th node: FNO solved on 421 and published 421,
211, 141, 106 and 85 (every 1st to 5th node).

Fields: ``a [points, points]`` (input), ``u [points, points]`` (solution).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from opjax.data.generation.problem import Problem
from opjax.solvers import Darcy2D, cosine_random_field, threshold

DEFAULTS = {
    "points": 85,
    "solver_points": 421,
    "alpha": 2.0,
    "tau": 3.0,
    "high": 12.0,
    "low": 3.0,
    "forcing": 1.0,
    "face_average": "arithmetic",
}


def build(p: dict) -> Problem:
    n, points = p["solver_points"], p["points"]
    if (n - 1) % (points - 1):
        raise ValueError(
            f"parameters.solver_points - 1 = {n - 1} is not a multiple of "
            f"parameters.points - 1 = {points - 1}"
        )
    stride = (n - 1) // (points - 1)
    solver = Darcy2D(face_average=p["face_average"])

    def sample(key):
        dtype = jnp.result_type(float)
        psi = cosine_random_field(key, (n, n), p["alpha"], p["tau"], dtype=dtype)
        a = threshold(psi, p["high"], p["low"])
        u = solver.solve(a, jnp.asarray(p["forcing"], dtype))
        return {"fields/a": a[::stride, ::stride], "fields/u": u[::stride, ::stride]}

    axis = np.linspace(0.0, 1.0, points)
    return Problem(
        sample=sample,
        coordinates={"x": axis, "y": axis},
        times=None,
        time_dependent=frozenset(),
        descriptions={"a": "permeability a(x, y)", "u": "pressure u(x, y), 0 on the boundary"},
        solver={
            "scheme": "5-point finite volumes, PCG with a fast-sine-transform Laplacian",
            "face_average": p["face_average"],
            "solver_points": n,
        },
    )
