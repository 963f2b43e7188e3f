"""The mesh generators' samples, before float32 storage, solve the Galerkin system that
scikit-fem assembles on its own (not the solver's matrix-free operator) to the CG
tolerance (``rtol = 1e-10``; checked to ``1e-9``), for P1 and P2."""

import jax
import numpy as np
import pytest
import skfem
from skfem.helpers import dot, grad

from opjax.data.generation import PROBLEMS, sample_keys


@skfem.BilinearForm
def weighted_laplace(u, v, w):
    return w["a"] * dot(grad(u), grad(v))


def draw(name, **changes):
    problem = PROBLEMS[name].build({**PROBLEMS[name].DEFAULTS, "refinements": 2, **changes})
    with jax.enable_x64(True):
        out = jax.jit(jax.vmap(problem.sample))(sample_keys(0, "train", 0, 2))
        return problem.mesh.space, {k: np.asarray(v) for k, v in jax.device_get(out).items()}


def interior_residual(space, coefficient, u, source):
    """The residual of the interior equations ``K_00 u_0 = (M f - K g_h)_0`` relative to
    their right-hand side (2-norms, as conjugate gradients' ``rtol`` measures it), with
    ``K(a)`` and ``M`` assembled by scikit-fem in float64."""
    basis = space.basis
    stiffness = skfem.asm(weighted_laplace, basis, a=basis.interpolate(coefficient))
    lift = np.where(space.boundary_mask, u, 0.0)
    interior = ~space.boundary_mask
    load = space.mass_scipy @ source
    residual = (stiffness @ u - load)[interior]
    return np.linalg.norm(residual) / np.linalg.norm((load - stiffness @ lift)[interior])


@pytest.mark.parametrize("degree", [1, 2])
def test_poisson_samples_solve_the_assembled_system(degree):
    space, out = draw("poisson_mesh", degree=degree, domain="square_with_hole")
    for u, f, g in zip(out["fields/u"], out["fields/f"], out["fields/g"]):
        assert interior_residual(space, np.ones(space.n_dofs), u, f) < 1e-9
        np.testing.assert_array_equal(u[space.boundary_mask], g[space.boundary_mask])


@pytest.mark.parametrize("degree", [1, 2])
def test_darcy_samples_solve_the_assembled_system(degree):
    space, out = draw("darcy_mesh", degree=degree, boundary_std=1.0)
    for u, a, g in zip(out["fields/u"], out["fields/a"], out["fields/g"]):
        assert interior_residual(space, a, u, np.ones(space.n_dofs)) < 1e-9
        np.testing.assert_array_equal(u[space.boundary_mask], g[space.boundary_mask])
        assert np.abs(g[space.boundary_mask]).max() > 0 and np.all(g[~space.boundary_mask] == 0)
