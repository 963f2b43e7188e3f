"""Finite-element metrics: the norms against closed-form integrals, the relative and
boundary errors' definitions, batching, jit and the DOF-count check."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.fem import LagrangeSpace, l_shape, square_with_hole, unit_square
from opjax.metrics import FiniteElementNorms


def x_squared(points):
    return points[:, 0] ** 2


def sine_bump(points):
    return np.sin(np.pi * points[:, 0]) * np.sin(np.pi * points[:, 1])


def x_plus_y(points):
    return points[:, 0] + points[:, 1]


@jax.enable_x64(True)
def test_p2_norms_of_a_quadratic_are_exact():
    """P2 holds ``x^2`` exactly: ``int x^4 = 1/5``, ``int |grad x^2|^2 = int 4 x^2 = 4/3``."""
    space = LagrangeSpace(unit_square(2), 2)
    norms = FiniteElementNorms.of(space, np.float64)
    u = jnp.asarray(space.interpolate(x_squared))
    assert float(norms.l2_norm(u)) == pytest.approx(1 / np.sqrt(5), rel=1e-12)
    assert float(norms.h1_seminorm(u)) == pytest.approx(np.sqrt(4 / 3), rel=1e-12)
    assert float(norms.h1_norm(u)) == pytest.approx(np.sqrt(1 / 5 + 4 / 3), rel=1e-12)


@jax.enable_x64(True)
def test_p1_norms_of_a_sine_converge_as_the_mesh_refines():
    """``u = sin(pi x) sin(pi y)``: ``||u||_L2 = 1/2``, ``|u|_H1 = pi / sqrt(2)``; the
    interpolant's norms approach them, the L2 norm's error at second order in ``h``."""
    l2_errors, h1_errors = [], []
    for n in (4, 8, 16):
        space = LagrangeSpace(unit_square(n), 1)
        norms = FiniteElementNorms.of(space, np.float64)
        u = jnp.asarray(space.interpolate(sine_bump))
        l2_errors.append(abs(float(norms.l2_norm(u)) - 0.5))
        h1_errors.append(abs(float(norms.h1_seminorm(u)) - np.pi / np.sqrt(2)))
    l2_orders = np.log2(np.array(l2_errors[:-1]) / np.array(l2_errors[1:]))
    assert np.all(l2_orders > 1.8), l2_orders
    assert l2_errors[-1] < 1e-2
    assert h1_errors[0] > h1_errors[1] > h1_errors[2]
    assert h1_errors[-1] < 2e-2


@pytest.mark.parametrize("degree", [1, 2])
@pytest.mark.parametrize("mesh", [l_shape(1), square_with_hole(3)], ids=["l_shape", "hole"])
def test_norms_of_a_constant_on_other_domains(mesh, degree):
    """``||c||_L2 = |c| sqrt(|Omega|)``, ``|c|_H1 = 0``."""
    space = LagrangeSpace(mesh, degree)
    norms = FiniteElementNorms.of(space)
    constant = jnp.full(space.n_dofs, -3.0)
    assert float(norms.l2_norm(constant)) == pytest.approx(3 * np.sqrt(mesh.area), rel=1e-5)
    assert float(norms.h1_norm(constant)) == pytest.approx(3 * np.sqrt(mesh.area), rel=1e-4)
    assert float(norms.h1_seminorm(constant)) == pytest.approx(0.0, abs=1e-2)


@pytest.fixture(scope="module")
def p1_square():
    space = LagrangeSpace(unit_square(4), 1)
    return space, FiniteElementNorms.of(space)


def test_relative_errors_of_a_function_against_itself_are_zero(p1_square):
    space, norms = p1_square
    u = jnp.asarray(space.interpolate(sine_bump), jnp.float32)
    assert float(norms.relative_l2_error(u, u)) == 0.0
    assert float(norms.relative_h1_error(u, u)) == 0.0
    assert float(norms.relative_h1_seminorm_error(u, u)) == 0.0
    assert float(norms.boundary_max_error(u, u)) == 0.0


def test_relative_errors_scale(p1_square):
    """Each norm is absolutely homogeneous, so ``(1 + a) ref`` has relative error ``|a|``,
    the zero prediction 1, and scaling both functions keeps the relative error."""
    space, norms = p1_square
    ref = jnp.asarray(space.interpolate(sine_bump), jnp.float32)
    pred = ref + 0.1 * jnp.asarray(space.interpolate(x_plus_y), jnp.float32)
    for relative_error in (
        norms.relative_l2_error,
        norms.relative_h1_error,
        norms.relative_h1_seminorm_error,
    ):
        assert float(relative_error(1.25 * ref, ref)) == pytest.approx(0.25, rel=1e-5)
        assert float(relative_error(jnp.zeros_like(ref), ref)) == pytest.approx(1.0, rel=1e-5)
        assert float(relative_error(-7.0 * pred, -7.0 * ref)) == pytest.approx(
            float(relative_error(pred, ref)), rel=1e-5
        )
    assert float(norms.l2_norm(-2.0 * ref)) == pytest.approx(2 * float(norms.l2_norm(ref)))


def test_full_h1_norm_sees_a_constant_offset_that_the_seminorm_does_not(p1_square):
    """``ref = x + y`` (exact in P1), ``pred = ref + 1``: the seminorm error is 0, the full
    H1 error ``||1||_H1 / ||x + y||_H1 = 1 / sqrt(7/6 + 2)``, the L2 one ``1 / sqrt(7/6)``."""
    space, norms = p1_square
    ref = jnp.asarray(space.interpolate(x_plus_y), jnp.float32)
    pred = ref + 1.0
    assert float(norms.relative_h1_seminorm_error(pred, ref)) == pytest.approx(0.0, abs=1e-3)
    assert float(norms.relative_h1_error(pred, ref)) == pytest.approx(
        1 / np.sqrt(7 / 6 + 2), rel=1e-5
    )
    assert float(norms.relative_l2_error(pred, ref)) == pytest.approx(1 / np.sqrt(7 / 6), rel=1e-5)


def test_boundary_error_is_the_largest_error_at_the_boundary_dofs_per_sample(p1_square):
    space, norms = p1_square
    ref = np.zeros((3, space.n_dofs), np.float32)
    pred = ref.copy()
    interior = np.flatnonzero(~space.boundary_mask)
    boundary = space.boundary_dofs
    pred[0, interior] = 5.0  # an interior error only
    pred[1, boundary[2]] = -0.5
    pred[1, boundary[4]] = 0.25
    pred[2, boundary] = 2.0
    np.testing.assert_allclose(norms.boundary_max_error(pred, ref), [0.0, 0.5, 2.0])


@pytest.mark.parametrize("degree", [1, 2])
def test_batched_metrics_match_one_function_at_a_time(degree):
    space = LagrangeSpace(unit_square(3), degree)
    norms = FiniteElementNorms.of(space)
    rng = np.random.default_rng(0)
    pred = rng.normal(size=(2, 3, space.n_dofs)).astype(np.float32)
    ref = rng.normal(size=(2, 3, space.n_dofs)).astype(np.float32)
    for metric in (
        norms.relative_l2_error,
        norms.relative_h1_error,
        norms.relative_h1_seminorm_error,
        norms.boundary_max_error,
    ):
        batched = metric(pred, ref)
        assert batched.shape == (2, 3)
        one_at_a_time = [[float(metric(p, r)) for p, r in zip(ps, rs)] for ps, rs in zip(pred, ref)]
        np.testing.assert_allclose(batched, one_at_a_time, rtol=1e-5)
        # opjax's channels-last layout [batch, n_dofs, channels]: the DOFs on axis 1.
        channels_last = metric(np.swapaxes(pred, 1, 2), np.swapaxes(ref, 1, 2), axis=1)
        np.testing.assert_allclose(channels_last, batched, rtol=1e-6)


def test_metrics_jit_with_the_norms_as_an_argument_or_closed_over(p1_square):
    space, norms = p1_square
    rng = np.random.default_rng(1)
    pred = jnp.asarray(rng.normal(size=(4, space.n_dofs)), jnp.float32)
    ref = jnp.asarray(rng.normal(size=(4, space.n_dofs)), jnp.float32)
    eager = norms.relative_h1_error(pred, ref)

    @jax.jit
    def as_argument(norms, pred, ref):
        return norms.relative_h1_error(pred, ref), norms.boundary_max_error(pred, ref)

    h1, boundary = as_argument(norms, pred, ref)
    np.testing.assert_allclose(h1, eager, rtol=1e-6)
    np.testing.assert_allclose(boundary, norms.boundary_max_error(pred, ref))
    np.testing.assert_allclose(jax.jit(norms.relative_h1_error)(pred, ref), eager, rtol=1e-6)


def test_a_dof_array_of_the_wrong_length_names_the_expected_dof_count(p1_square):
    space, norms = p1_square
    good = np.zeros((2, space.n_dofs), np.float32)
    bad = np.zeros((2, space.n_dofs + 1), np.float32)
    expected = f"must hold the {space.n_dofs} DOFs"
    with pytest.raises(ValueError, match=f"pred has shape .*{expected}"):
        norms.relative_l2_error(bad, good)
    with pytest.raises(ValueError, match=f"ref has shape .*{expected}"):
        norms.relative_h1_error(good, bad)
    with pytest.raises(ValueError, match=f"ref has shape .*{expected}"):
        norms.boundary_max_error(good, bad)
    with pytest.raises(ValueError, match=expected):
        norms.l2_norm(np.float32(1.0))
    with pytest.raises(ValueError, match=expected):
        norms.h1_norm(good, axis=0)
