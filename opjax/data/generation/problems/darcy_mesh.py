"""Darcy flow on a triangle mesh with a random smooth two-phase permeability.

    -div(a grad u) = f   in Omega,      u = g   on dOmega,

on the domain and P1/P2 mesh the parameters name (``domain``, ``refinements``, ``degree``;
see :mod:`~opjax.data.generation.mesh_problem`), with the constant source ``f = forcing``.
The permeability is a smoothed version of the FNO paper's thresholded Gaussian random
field (``a = high`` where ``psi >= 0``, ``low`` elsewhere):

    a = low + (high - low) (1 + tanh(psi / width)) / 2,

``psi`` a smooth Gaussian random field of unit box-averaged standard deviation (the Neumann
cosine series on the mesh's bounding box with covariance ``(-Laplace + tau^2)^(-alpha)``,
:func:`~opjax.solvers.cosine_random_field_at`) at the DOF points; ``width -> 0`` gives the
threshold. So ``a`` lies in ``[low, high]`` at every DOF, and so does the coefficient
``a_h`` (the interpolant) everywhere for P1; for P2, whose vertex basis functions dip to
``-1/8``, only ``a_h >= low - (high - low) / 3`` is guaranteed (0 for the defaults), but a
``psi`` resolved by the mesh keeps ``a_h`` near ``[low, high]`` (with the defaults its
minimum over the quadrature points is above 2 even on the L-shape with 2 refinements).
With the default ``width`` about 80% of the DOFs lie within 1 of ``low`` or ``high``.
The Dirichlet data are ``g = 0`` for ``boundary_std = 0``, else the boundary values of
another independent smooth field of that standard deviation.

``u_h`` is the Galerkin solution in the Lagrange space ``V_h``: ``u_h = g_h`` at the
boundary DOFs and ``int a_h grad u_h . grad v_h = int f v_h`` for every ``v_h`` in ``V_h``
vanishing on the boundary, solved by conjugate gradients to relative residual ``rtol``.

Fields, DOF vectors ``[n_dofs]`` of ``V_h`` (the mesh is stored as ``/mesh``): ``a``
(input), ``g`` (input: the Dirichlet data at the boundary DOFs, 0 at the interior ones)
and ``u`` (solution; equal to ``g`` at the boundary DOFs).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from opjax.data.generation.mesh_problem import (
    CHOICES,
    FIELD_DEFAULTS,
    MESH_DEFAULTS,
    SOLVER_DEFAULTS,
    dataset_mesh,
    dirichlet_field,
    mesh_problem,
    smooth_field,
    solve,
)
from opjax.data.generation.problem import Problem

DEFAULTS = {
    **MESH_DEFAULTS,
    **FIELD_DEFAULTS,
    "low": 3.0,
    "high": 12.0,
    "width": 0.25,
    "forcing": 1.0,
    "boundary_std": 0.0,
    **SOLVER_DEFAULTS,
}

__all__ = ["CHOICES", "DEFAULTS", "build"]


def build(p: dict) -> Problem:
    if not p["low"] < p["high"]:
        raise ValueError(f"parameters.low = {p['low']} must be below parameters.high = {p['high']}")
    mesh = dataset_mesh(p)
    space = mesh.space

    def sample(key):
        dtype = jnp.result_type(float)
        coefficient_key, boundary_key = jax.random.split(key)
        psi = smooth_field(coefficient_key, space, p, 1.0, dtype)
        a = p["low"] + (p["high"] - p["low"]) * (1.0 + jnp.tanh(psi / p["width"])) / 2.0
        g = dirichlet_field(space, smooth_field(boundary_key, space, p, p["boundary_std"], dtype))
        f = jnp.full(space.n_dofs, p["forcing"], dtype)
        u = solve(space, a, f, g, p["rtol"])
        return {"fields/a": a, "fields/g": g, "fields/u": u}

    return mesh_problem(
        sample,
        mesh,
        {
            "a": "permeability a at the DOF points",
            "g": "Dirichlet data g at the boundary DOFs, 0 at the interior ones",
            "u": "pressure u of -div(a grad u) = f, u = g on the boundary (DOFs)",
        },
        p["rtol"],
    )
