import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.metrics.relative import finite_difference, relative_h1, relative_lp
from tests.conftest import FIXTURES


@pytest.mark.parametrize("d", [1, 2])
def test_parity_with_neuraloperator_losses(d):
    """neuraloperator's LpLoss/H1Loss sum over batch and channels; ours are per sample."""
    f = np.load(FIXTURES / "neuralop_losses.npz")
    pred, true = f[f"{d}d/pred"], f[f"{d}d/true"]
    np.testing.assert_allclose(float(jnp.sum(relative_lp(pred, true))), f[f"{d}d/l2"], rtol=1e-5)
    np.testing.assert_allclose(
        float(jnp.sum(relative_lp(pred, true, p=1))), f[f"{d}d/l1"], rtol=1e-5
    )
    np.testing.assert_allclose(
        float(jnp.sum(relative_h1(pred, true))), f[f"{d}d/h1_periodic"], rtol=1e-5
    )
    np.testing.assert_allclose(
        float(jnp.sum(relative_h1(pred, true, periodic=False))),
        f[f"{d}d/h1_nonperiodic"],
        rtol=1e-5,
    )


def test_relative_l2_by_hand():
    true = np.ones((1, 4, 1))
    pred = np.array([1.0, 1.0, 1.0, 3.0]).reshape(1, 4, 1)
    assert float(relative_lp(pred, true)[0]) == pytest.approx(2.0 / 2.0, rel=1e-6)
    assert float(relative_lp(true, true)[0]) == 0.0


@jax.enable_x64(True)
def test_periodic_central_difference_of_a_sine_is_exact_in_closed_form():
    n, k = 32, 3
    s = np.arange(n) / n
    u = np.sin(2 * np.pi * k * s)[None, :, None]
    h = 1.0 / n
    expected = np.cos(2 * np.pi * k * s) * np.sin(2 * np.pi * k * h) / h
    np.testing.assert_allclose(
        np.asarray(finite_difference(u, 1, True))[0, :, 0], expected, atol=1e-10
    )


@jax.enable_x64(True)
def test_one_sided_boundary_differences_are_third_order():
    """Exact for cubics at the ends, exact for quadratics inside."""
    n = 10
    s = np.arange(n) / n
    cubic = (s**3 - 2 * s)[None, :, None]
    d = np.asarray(finite_difference(cubic, 1, False))[0, :, 0]
    np.testing.assert_allclose(d[[0, -1]], (3 * s**2 - 2)[[0, -1]], atol=1e-10)
    quadratic = (s**2)[None, :, None]
    d = np.asarray(finite_difference(quadratic, 1, False))[0, :, 0]
    np.testing.assert_allclose(d, 2 * s, atol=1e-10)
