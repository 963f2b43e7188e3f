"""Poisson's equation on a triangle mesh with random smooth source and Dirichlet data.

    -Laplace u = f   in Omega,      u = g   on dOmega,

on the domain and P1/P2 mesh the parameters name (``domain``, ``refinements``, ``degree``;
see :mod:`~opjax.data.generation.mesh_problem`). The source ``f`` and the function ``h``
whose boundary values are ``g`` are independent smooth Gaussian random fields, Neumann
cosine series on the mesh's bounding box with covariance ``(-Laplace + tau^2)^(-alpha)``
(in units of the box) truncated to ``n_modes`` cosines per axis, with box-averaged standard
deviations ``source_std`` and ``boundary_std``
(:func:`~opjax.solvers.cosine_random_field_at`), both interpolated at the DOF points.

With the defaults on the L-shape, ``f`` alone (``g = 0``) gives a solution of standard
deviation about 1, as ``g`` alone does; a smaller domain needs a larger ``source_std`` for
the same balance (about 100 on the square with a hole).

``u_h`` is the Galerkin solution in the Lagrange space ``V_h``: ``u_h = g_h`` at the
boundary DOFs and ``int grad u_h . grad v_h = int f_h v_h`` for every ``v_h`` in ``V_h``
vanishing on the boundary, i.e. ``(K u - M f)_i = 0`` at the interior DOFs ``i`` (``K`` the
stiffness, ``M`` the mass matrix), solved by conjugate gradients to relative residual
``rtol``.

Fields, DOF vectors ``[n_dofs]`` of ``V_h`` (the mesh is stored as ``/mesh``): ``f``
(input), ``g`` (input: ``h`` at the boundary DOFs, 0 at the interior ones) and ``u``
(solution; equal to ``g`` at the boundary DOFs).
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
    "source_std": 20.0,
    "boundary_std": 1.0,
    **SOLVER_DEFAULTS,
}

__all__ = ["CHOICES", "DEFAULTS", "build"]


def build(p: dict) -> Problem:
    mesh = dataset_mesh(p)
    space = mesh.space

    def sample(key):
        dtype = jnp.result_type(float)
        source_key, boundary_key = jax.random.split(key)
        f = smooth_field(source_key, space, p, p["source_std"], dtype)
        g = dirichlet_field(space, smooth_field(boundary_key, space, p, p["boundary_std"], dtype))
        u = solve(space, jnp.ones(space.n_dofs, dtype), f, g, p["rtol"])
        return {"fields/f": f, "fields/g": g, "fields/u": u}

    return mesh_problem(
        sample,
        mesh,
        {
            "f": "source f at the DOF points",
            "g": "Dirichlet data g at the boundary DOFs, 0 at the interior ones",
            "u": "solution u of -Laplace u = f, u = g on the boundary (DOFs)",
        },
        p["rtol"],
    )
