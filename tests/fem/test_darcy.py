"""The finite-element Darcy solver: convergence orders on a manufactured solution, exact
boundary values, and gradients against finite differences."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.fem import (
    LagrangeSpace,
    boundary_values_of,
    l_shape,
    solve_darcy,
    source_load,
    square_with_hole,
    unit_square,
)

PI = np.pi


def exact_solution(x):
    """``u = sin(pi x) sin(pi y) + x y``: not zero on the boundary, so the lift is used."""
    X, Y = x[..., 0], x[..., 1]
    return np.sin(PI * X) * np.sin(PI * Y) + X * Y


def exact_gradient(x):
    X, Y = x[..., 0], x[..., 1]
    return np.stack(
        [PI * np.cos(PI * X) * np.sin(PI * Y) + Y, PI * np.sin(PI * X) * np.cos(PI * Y) + X], -1
    )


def coefficient(x):
    """``a = 1 + x^2 + y``."""
    return 1.0 + x[..., 0] ** 2 + x[..., 1]


def source(x):
    """``f = -div(a grad u) = -a Laplace(u) - grad a . grad u`` for the above."""
    X, Y = x[..., 0], x[..., 1]
    gradient = exact_gradient(x)
    laplacian = -2 * PI**2 * np.sin(PI * X) * np.sin(PI * Y)
    return -coefficient(x) * laplacian - 2 * X * gradient[..., 0] - gradient[..., 1]


def errors(n: int, degree: int) -> tuple[float, float]:
    """``(||u - u_h||_L2, |u - u_h|_H1)`` on the ``n x n`` unit square, by quadrature."""
    space = LagrangeSpace(unit_square(n), degree)
    with jax.enable_x64(True):
        u = solve_darcy(
            space,
            jnp.asarray(space.interpolate(coefficient)),
            jnp.asarray(space.load_vector(source)),
            jnp.asarray(boundary_values_of(space, exact_solution)),
            rtol=1e-12,
        )
        u = np.asarray(u)
    quadrature = space.quadrature
    local = u[space.cell_dofs]
    values = np.einsum("cqi,ci->cq", quadrature.values, local)
    gradients = np.einsum("cqid,ci->cqd", quadrature.gradients, local)
    l2 = np.sum(quadrature.weights * (values - exact_solution(quadrature.points)) ** 2)
    h1 = np.sum(
        quadrature.weights * np.sum((gradients - exact_gradient(quadrature.points)) ** 2, -1)
    )
    return float(np.sqrt(l2)), float(np.sqrt(h1))


@pytest.mark.parametrize(
    ("degree", "sizes", "l2_order", "h1_order"),
    [(1, (8, 16, 32), 2.0, 1.0), (2, (4, 8, 16), 3.0, 2.0)],
    ids=["P1", "P2"],
)
def test_convergence_orders(degree, sizes, l2_order, h1_order):
    """P1: ``h^2`` in L2 and ``h`` in H1; P2: ``h^3`` and ``h^2`` (observed orders from
    halving ``h``, within 0.1)."""
    measured = np.array([errors(n, degree) for n in sizes])
    orders = np.log2(measured[:-1] / measured[1:])
    np.testing.assert_allclose(orders[:, 0], l2_order, atol=0.1)
    np.testing.assert_allclose(orders[:, 1], h1_order, atol=0.1)


def random_problem(space, seed=0):
    rng = np.random.default_rng(seed)
    a = jnp.asarray(1.0 + rng.random(space.n_dofs))
    f = jnp.asarray(rng.standard_normal(space.n_dofs))
    g = jnp.asarray(rng.standard_normal(len(space.boundary_dofs)))
    return a, f, g


@pytest.mark.parametrize("degree", [1, 2])
def test_boundary_values_are_exact_and_the_equation_holds(degree):
    space = LagrangeSpace(square_with_hole(3), degree)
    with jax.enable_x64(True):
        a, f, g = random_problem(space)
        u = solve_darcy(space, a, source_load(space, f), g, rtol=1e-13)
        np.testing.assert_array_equal(np.asarray(u)[space.boundary_dofs], np.asarray(g))
        # The interior rows of K(a) u = M f.
        from opjax.fem import apply_cell_matrices, cell_stiffness

        residual = apply_cell_matrices(space, cell_stiffness(space, a), u) - source_load(space, f)
        interior = ~space.boundary_mask
        np.testing.assert_allclose(np.asarray(residual)[interior], 0.0, atol=1e-10)


def test_gradient_with_respect_to_the_coefficient_matches_finite_differences():
    space = LagrangeSpace(l_shape(2), 1)
    with jax.enable_x64(True):
        a, f, g = random_problem(space)
        rng = np.random.default_rng(1)
        weights = jnp.asarray(rng.standard_normal(space.n_dofs))
        direction = jnp.asarray(rng.standard_normal(space.n_dofs))
        load = source_load(space, f)

        def objective(a):
            return jnp.dot(weights, solve_darcy(space, a, load, g, rtol=1e-13))

        gradient = jax.jit(jax.grad(objective))(a)
        eps = 1e-5
        finite_difference = (objective(a + eps * direction) - objective(a - eps * direction)) / (
            2 * eps
        )
        np.testing.assert_allclose(float(gradient @ direction), float(finite_difference), rtol=1e-7)
        tangent = jax.jvp(objective, (a,), (direction,))[1]
        np.testing.assert_allclose(float(tangent), float(finite_difference), rtol=1e-7)


def test_vmap_over_coefficients_equals_one_at_a_time():
    space = LagrangeSpace(l_shape(1), 1)
    with jax.enable_x64(True):
        problems = [random_problem(space, seed) for seed in range(3)]
        a = jnp.stack([p[0] for p in problems])
        load = source_load(space, problems[0][1])
        g = problems[0][2]
        batched = jax.vmap(lambda a: solve_darcy(space, a, load, g, rtol=1e-12))(a)
        for k in range(3):
            single = solve_darcy(space, a[k], load, g, rtol=1e-12)
            np.testing.assert_allclose(batched[k], single, atol=1e-10)


def test_bad_inputs_are_named():
    space = LagrangeSpace(unit_square(2), 1)
    a = jnp.ones(space.n_dofs)
    load = jnp.zeros(space.n_dofs)
    with pytest.raises(ValueError, match="coefficient has shape"):
        solve_darcy(space, jnp.ones(3), load, jnp.zeros(len(space.boundary_dofs)))
    with pytest.raises(ValueError, match=r"boundary_values has shape \(3,\).*8 boundary DOFs"):
        solve_darcy(space, a, load, jnp.zeros(3))
