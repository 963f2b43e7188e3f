"""Darcy2D: manufactured-solution convergence order, parity with a scipy sparse direct
solve, discrete properties (SPD operator, maximum principle), gradients against finite
differences, vmap/jit, and the preconditioners."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

from opjax.solvers import Darcy2D, cosine_random_field, threshold
from opjax.solvers.equations import darcy as darcy_module


def _nodes(s):
    x = jnp.linspace(0.0, 1.0, s, dtype=jnp.float64)
    return jnp.meshgrid(x, x, indexing="ij")


def _coefficient_fn(x, y):
    return 1.0 + 0.5 * jnp.sin(2 * jnp.pi * x) * jnp.cos(3 * jnp.pi * y)


def _solution_fn(x, y):
    return jnp.sin(jnp.pi * x) * jnp.sin(2 * jnp.pi * y) * jnp.exp(x - y)


def _source_fn(x, y):
    """``-div(a grad u)`` of the functions above, exactly, by automatic differentiation."""

    def flux(axis):
        return lambda x, y: _coefficient_fn(x, y) * jax.grad(_solution_fn, axis)(x, y)

    return -(jax.grad(flux(0), 0)(x, y) + jax.grad(flux(1), 1)(x, y))


def _scipy_reference(a, f, face_average):
    """The same 5-point system assembled entry by entry with scipy.sparse, solved by spsolve."""
    s = a.shape[0]
    n = s - 2
    if face_average == "arithmetic":
        mean = lambda p, q: (p + q) / 2  # noqa: E731
    else:
        mean = lambda p, q: 2 * p * q / (p + q)  # noqa: E731
    index = -np.ones((s, s), int)
    index[1:-1, 1:-1] = np.arange(n * n).reshape(n, n)
    rows, cols, vals = [], [], []
    for i in range(1, s - 1):
        for j in range(1, s - 1):
            diagonal = 0.0
            for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                c = mean(a[i, j], a[i + di, j + dj]) * (s - 1) ** 2
                diagonal += c
                if index[i + di, j + dj] >= 0:
                    rows.append(index[i, j])
                    cols.append(index[i + di, j + dj])
                    vals.append(-c)
            rows.append(index[i, j])
            cols.append(index[i, j])
            vals.append(diagonal)
    matrix = sp.csr_matrix((vals, (rows, cols)), shape=(n * n, n * n))
    u = np.zeros((s, s))
    u[1:-1, 1:-1] = spsolve(matrix, f[1:-1, 1:-1].ravel()).reshape(n, n)
    return u


@jax.jit(static_argnums=(1, 2))
def _fno_coefficient(key, s, dtype=jnp.float64):
    """FNO's permeability: a thresholded cosine random field, 12 or 3."""
    return threshold(cosine_random_field(key, (s, s), dtype=dtype), high=12.0, low=3.0)


# Compiled once per input shape and reused across the tests (compilation dominates).
_solve = jax.jit(Darcy2D().solve_with_info)


@jax.enable_x64(True)
@pytest.mark.parametrize("face_average", ["arithmetic", "harmonic"])
def test_manufactured_solution_converges_at_second_order(face_average):
    darcy = Darcy2D(face_average=face_average)
    sizes = [17, 33, 65]
    errors = []
    for s in sizes:
        x, y = _nodes(s)
        a = _coefficient_fn(x, y)
        f = jax.jit(jax.vmap(jax.vmap(_source_fn)))(x, y)
        u = jax.jit(darcy.solve)(a, f)
        errors.append(float(jnp.max(jnp.abs(u - _solution_fn(x, y)))))
    h = [1.0 / (s - 1) for s in sizes]
    slope = np.polyfit(np.log(h), np.log(errors), 1)[0]
    assert abs(slope - 2.0) < 0.3, (errors, slope)
    assert errors[-1] < 2e-3, errors  # |u| reaches ~1.4: the error is ~0.1% at s = 65


@jax.enable_x64(True)
@pytest.mark.parametrize("face_average", ["arithmetic", "harmonic"])
def test_matches_a_scipy_sparse_direct_solve(face_average):
    s = 41
    a = _fno_coefficient(jax.random.PRNGKey(3), s)
    assert set(np.unique(np.asarray(a))) == {3.0, 12.0}
    f = 1.0 + jax.random.uniform(jax.random.PRNGKey(4), (s, s), jnp.float64)
    u = jax.jit(Darcy2D(face_average=face_average).solve)(a, f)
    reference = _scipy_reference(np.asarray(a), np.asarray(f), face_average)
    np.testing.assert_allclose(u, reference, rtol=0, atol=1e-8 * np.abs(reference).max())
    assert np.abs(reference).max() > 1e-3


def test_float32_matches_the_float64_reference():
    s = 33
    a = np.asarray(_fno_coefficient(jax.random.PRNGKey(5), s, jnp.float32), np.float64)
    u = jax.jit(Darcy2D().solve)(jnp.asarray(a, jnp.float32))
    assert u.dtype == jnp.float32
    reference = _scipy_reference(a, np.ones((s, s)), "arithmetic")
    np.testing.assert_allclose(u, reference, rtol=0, atol=1e-5 * np.abs(reference).max())


@jax.enable_x64(True)
def test_operator_is_symmetric_positive_definite():
    s = 12
    n = s - 2
    a = 3.0 + 9.0 * jax.random.uniform(jax.random.PRNGKey(0), (s, s), jnp.float64)
    darcy = Darcy2D(face_average="harmonic")
    basis = jnp.eye(n * n, dtype=jnp.float64).reshape(n * n, n, n)
    operator = jax.jit(darcy.operator)
    columns = jax.jit(jax.vmap(lambda e: darcy.operator(a, jnp.pad(e, 1))[1:-1, 1:-1]))(basis)
    matrix = np.asarray(columns.reshape(n * n, n * n)).T
    np.testing.assert_allclose(matrix, matrix.T, atol=1e-12 * np.abs(matrix).max())
    assert np.linalg.eigvalsh(matrix).min() > 0
    # Off-diagonal entries <= 0 and row sums >= 0: an M-matrix (discrete maximum principle).
    assert (matrix - np.diag(np.diag(matrix)) <= 0).all()
    assert (matrix.sum(axis=1) >= -1e-9).all()
    # The operator ignores the boundary values of its argument and returns 0 there.
    v = jax.random.normal(jax.random.PRNGKey(1), (s, s), jnp.float64)
    out = operator(a, v)
    np.testing.assert_array_equal(out, operator(a, v.at[0].set(7.0).at[:, -1].set(7.0)))
    assert not np.asarray(out[0]).any() and not np.asarray(out[:, -1]).any()


@jax.enable_x64(True)
def test_solution_is_positive_inside_and_zero_on_the_boundary():
    s = 49
    a = _fno_coefficient(jax.random.PRNGKey(7), s)
    u, info = _solve(a, 1.0)
    u = np.asarray(u)
    assert (u[1:-1, 1:-1] > 0).all()
    for edge in (u[0], u[-1], u[:, 0], u[:, -1]):
        np.testing.assert_array_equal(edge, 0.0)
    # FNO's data live between the constant-coefficient solutions for a = 12 and a = 3.
    assert 0.0061 / 1.1 < u.max() < 0.0737 / 3
    # The reported residual is the true one, below the default float64 tolerance.
    residual = np.asarray(1.0 - jax.jit(Darcy2D().operator)(a, jnp.asarray(u)))[1:-1, 1:-1]
    assert np.linalg.norm(residual) / (s - 2) < 2e-10
    assert float(info["residual"]) <= 1e-10


@jax.enable_x64(True)
def test_gradients_match_central_finite_differences():
    s = 8
    keys = jax.random.split(jax.random.PRNGKey(11), 4)
    a = 3.0 + 9.0 * jax.random.uniform(keys[0], (s, s), jnp.float64)
    f = 1.0 + jax.random.uniform(keys[1], (s, s), jnp.float64)
    weight = jax.random.normal(keys[2], (s, s), jnp.float64)
    darcy = Darcy2D(tol=1e-14)

    def loss(a, f):
        u = darcy.solve(a, f)
        return jnp.sum(weight * u) + 100.0 * jnp.sum(u**2)

    # One compiled function gives both the gradient and the loss for the differences.
    value_and_grad = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
    _, (grad_a, grad_f) = value_and_grad(a, f)

    def loss(a, f):
        return value_and_grad(a, f)[0]

    eps = 1e-5
    for i, direction in enumerate(jax.random.normal(keys[3], (4, s, s), jnp.float64)):
        if i < 2:
            fd = (loss(a + eps * direction, f) - loss(a - eps * direction, f)) / (2 * eps)
            exact = jnp.sum(grad_a * direction)
        else:
            fd = (loss(a, f + eps * direction) - loss(a, f - eps * direction)) / (2 * eps)
            exact = jnp.sum(grad_f * direction)
        np.testing.assert_allclose(exact, fd, rtol=1e-7)
    # The corners of a and the boundary of f never enter the system.
    np.testing.assert_array_equal(grad_a[np.ix_([0, -1], [0, -1])], 0.0)
    for edge in (grad_f[0], grad_f[-1], grad_f[:, 0], grad_f[:, -1]):
        np.testing.assert_array_equal(edge, 0.0)
    assert np.abs(np.asarray(grad_a[0, 1:-1])).min() > 0


@jax.enable_x64(True)
def test_vmap_over_coefficients_equals_a_loop_and_jit():
    s = 17
    keys = jax.random.split(jax.random.PRNGKey(2), 3)
    a = jnp.stack([_fno_coefficient(k, s) for k in keys])
    darcy = Darcy2D()
    batched = jax.jit(jax.vmap(darcy.solve))(a)
    for i in range(len(a)):
        np.testing.assert_allclose(batched[i], _solve(a[i], 1.0)[0], rtol=0, atol=1e-14)
    # A batch of sources with one coefficient, and a scalar source given as a field.
    f = jnp.stack([jnp.ones((s, s)), 2.0 * jnp.ones((s, s))])
    by_source = jax.jit(jax.vmap(darcy.solve, in_axes=(None, 0)))(a[0], f)
    np.testing.assert_allclose(by_source[1], 2.0 * batched[0], rtol=1e-12)


@jax.enable_x64(True)
def test_laplacian_preconditioner_iterations_do_not_grow_with_resolution():
    iterations = {}
    solutions = {}
    for preconditioner in ("laplacian", "jacobi", "none"):
        solver = jax.jit(Darcy2D(preconditioner=preconditioner).solve_with_info)
        for s in (17, 65):
            u, info = solver(_fno_coefficient(jax.random.PRNGKey(s), s))
            iterations[preconditioner, s] = int(info["iterations"])
            solutions[preconditioner, s] = u
            assert float(info["residual"]) <= 1e-10
    for s in (17, 65):
        for other in ("jacobi", "none"):
            np.testing.assert_allclose(
                solutions[other, s], solutions["laplacian", s], rtol=0, atol=1e-11
            )
    # Condition number <= max(a) / min(a) = 4: a fixed, small number of iterations.
    assert iterations["laplacian", 17] <= 30 and iterations["laplacian", 65] <= 30, iterations
    assert iterations["jacobi", 65] > 3 * iterations["laplacian", 65], iterations
    assert iterations["jacobi", 65] > 2 * iterations["jacobi", 17], iterations


@jax.enable_x64(True)
def test_fft_sine_transform_path_matches_the_dense_one(monkeypatch):
    n = 7
    x = jax.random.normal(jax.random.PRNGKey(n), (2, n, n), jnp.float64)
    j = np.arange(1, n + 1)
    sines = np.sin(math.pi * np.outer(j, j) / (n + 1))
    expected = sines @ np.asarray(x) @ sines
    np.testing.assert_allclose(jax.jit(darcy_module._dst2_fft)(x), expected, atol=1e-12)
    dense_dst = jax.jit(jax.vmap(darcy_module._dst2_dense(n, jnp.float64)))
    np.testing.assert_allclose(dense_dst(x), expected, atol=1e-12)
    a = _fno_coefficient(jax.random.PRNGKey(9), 17)
    dense = _solve(a, 1.0)[0]
    monkeypatch.setattr(darcy_module, "_DENSE_DST_MAX", 0)
    u, info = jax.jit(Darcy2D().solve_with_info)(a)
    np.testing.assert_allclose(u, dense, rtol=0, atol=1e-13)
    assert int(info["iterations"]) <= 30


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="face_average"):
        Darcy2D(face_average="geometric")
    with pytest.raises(ValueError, match="preconditioner"):
        Darcy2D(preconditioner="ilu")
    with pytest.raises(ValueError, match=r"\[s, s\]"):
        Darcy2D().solve(jnp.ones((2, 9, 9)))
    with pytest.raises(ValueError, match="source f"):
        Darcy2D().solve(jnp.ones((9, 9)), jnp.ones((8, 8)))
