"""What the generators on triangle meshes share (``poisson_mesh``, ``darcy_mesh``): the mesh
and Lagrange space their parameters name, smooth random fields at its DOF points, Dirichlet
data, and the finite-element solve.

The mesh parameters (:data:`MESH_DEFAULTS`) are ``domain``, one of :data:`DOMAINS`,
``refinements``, how many times the mesh size ``h`` (the longest edge) is halved from the
domain's base mesh, and ``degree``, 1 (P1) or 2 (P2):

    domain             base mesh                       cells         h
    l_shape            (-1, 1)^2 minus [0, 1)^2        6 * 4^r       sqrt(2) / 2^r
    square_with_hole   (0, 1)^2 minus [1/3, 2/3]^2     16 * 4^r      sqrt(2) / (3 * 2^r)
    unit_square        (0, 1)^2                        2 * 4^r       sqrt(2) / 2^r
    disk               the unit disk                   4 * 4^r       0.22 (r = 3), 0.11 (r = 4)

(``r = refinements``; see :mod:`opjax.fem.domains`). A P1 space has one DOF per vertex, P2
one more per edge: e.g. the L-shape with ``r = 4`` has 833 P1 and 3201 P2 DOFs.

A smooth random field (:func:`smooth_field`) is the Neumann Gaussian random field of
:func:`~opjax.solvers.cosine_random_field_at` on the mesh's bounding box, covariance
``(-Laplacian + tau^2)^(-alpha)`` in units of the box (parameters ``alpha``, ``tau``,
``n_modes`` cosines per axis), scaled to a box-averaged standard deviation, and evaluated
at the DOF points: a function's DOFs are its values there (its nodal interpolant).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from opjax.data.generation.problem import Problem
from opjax.data.mesh_data import DatasetMesh
from opjax.fem import (
    LagrangeSpace,
    Mesh,
    disk,
    l_shape,
    solve_darcy,
    source_load,
    square_with_hole,
    unit_square,
)
from opjax.solvers import cosine_random_field_at

#: The domains by name: ``refinements -> Mesh`` (the table above).
DOMAINS: dict[str, Callable[[int], Mesh]] = {
    "l_shape": l_shape,
    "square_with_hole": lambda refinements: square_with_hole(3 * 2**refinements),
    "unit_square": lambda refinements: unit_square(2**refinements),
    "disk": disk,
}
DEGREES = (1, 2)

#: The parameters restricted to a few values (a problem module's ``CHOICES``).
CHOICES = {"domain": tuple(DOMAINS), "degree": DEGREES}

#: The mesh, random-field and solver parameters with their defaults.
MESH_DEFAULTS = {"domain": "l_shape", "refinements": 4, "degree": 1}
FIELD_DEFAULTS = {"n_modes": 16, "alpha": 2.0, "tau": 3.0}
SOLVER_DEFAULTS = {"rtol": 1e-10}


def dataset_mesh(p: dict) -> DatasetMesh:
    """The Lagrange space of ``p["degree"]`` on the mesh of ``p["domain"]`` refined
    ``p["refinements"]`` times, and on the mesh refined once less (the coarse level).

    Raises:
        ValueError: naming ``parameters.domain`` or ``parameters.degree`` when it is not
            one of the choices.
    """
    domain, degree = p["domain"], p["degree"]
    if domain not in DOMAINS:
        raise ValueError(f"parameters.domain = {domain!r}; expected one of {list(DOMAINS)}")
    if degree not in DEGREES:
        raise ValueError(f"parameters.degree = {degree!r}; expected one of {DEGREES} (P1, P2)")
    refinements = p["refinements"]
    coarse = None
    if refinements > 0:
        coarse = LagrangeSpace(DOMAINS[domain](refinements - 1), degree)
    return DatasetMesh(LagrangeSpace(DOMAINS[domain](refinements), degree), domain, coarse)


def smooth_field(key: jax.Array, space: LagrangeSpace, p: dict, std: float, dtype) -> jax.Array:
    """``[n_dofs]``: a smooth random field (see above) with box-averaged standard deviation
    ``std`` at the DOF points, from ``p["n_modes"], p["alpha"], p["tau"]``."""
    points = space.mesh.points
    return cosine_random_field_at(
        key,
        space.dof_points,
        points.min(axis=0),
        points.max(axis=0),
        p["n_modes"],
        p["alpha"],
        p["tau"],
        std,
        dtype,
    )


def dirichlet_field(space: LagrangeSpace, values: jax.Array) -> jax.Array:
    """``[n_dofs]``: ``values [n_dofs]`` at the boundary DOFs and 0 at the interior ones,
    the Dirichlet data ``g`` as a field (and the lift ``g_h`` of ``opjax.fem.darcy``)."""
    return jnp.where(jnp.asarray(space.boundary_mask), values, jnp.zeros_like(values))


def solve(
    space: LagrangeSpace,
    coefficient: jax.Array,
    source: jax.Array,
    dirichlet: jax.Array,
    rtol: float,
) -> jax.Array:
    """``[n_dofs]``: the Galerkin solution ``u_h`` of ``-div(a grad u) = f`` with ``u_h = g``
    at the boundary DOFs, for the DOF vectors ``a = coefficient``, ``f = source`` (load
    ``M f``) and ``g = dirichlet`` (its boundary DOFs), by
    :func:`~opjax.fem.solve_darcy` to relative residual ``rtol``. The boundary DOFs of
    ``u_h`` are those of ``g`` exactly."""
    boundary_values = dirichlet[jnp.asarray(space.boundary_dofs)]
    return solve_darcy(space, coefficient, source_load(space, source), boundary_values, rtol=rtol)


def mesh_problem(
    sample: Callable[[jax.Array], dict[str, jax.Array]],
    mesh: DatasetMesh,
    descriptions: dict[str, str],
    rtol: float,
) -> Problem:
    """A steady :class:`~opjax.data.generation.problem.Problem` whose fields are DOF vectors
    ``[n_dofs]`` of ``mesh``'s space, solved by :func:`solve` to relative residual ``rtol``."""
    return Problem(
        sample=sample,
        coordinates={},
        times=None,
        time_dependent=frozenset(),
        descriptions=descriptions,
        solver={
            "scheme": (
                f"{mesh.element} Galerkin finite elements, matrix-free Jacobi-preconditioned "
                "conjugate gradients (opjax.fem.solve_darcy)"
            ),
            "rtol": rtol,
        },
        mesh=mesh,
    )
