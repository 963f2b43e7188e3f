import math

import jax
import jax.numpy as jnp
import numpy as np

from opjax.solvers import PeriodicGrid, gaussian_random_field, random_fourier_series, threshold


def test_gaussian_random_field_has_the_prescribed_spectrum():
    """Mean |u_hat(k)|^2 over many samples matches sigma^2 (|k|^2 + tau^2)^(-alpha)."""
    grid = PeriodicGrid((64,), 1.0)
    alpha, tau, sigma = 2.5, 7.0, 49.0
    keys = jax.random.split(jax.random.PRNGKey(0), 4000)
    fields = jax.jit(jax.vmap(lambda k: gaussian_random_field(k, grid, alpha, tau, sigma)))(keys)
    spectrum = np.mean(np.abs(np.fft.rfft(np.asarray(fields), axis=-1) / 64) ** 2, axis=0)
    k = 2 * math.pi * np.arange(33)
    expected = sigma**2 * (k**2 + tau**2) ** (-alpha)
    np.testing.assert_allclose(spectrum[1:12], expected[1:12], rtol=0.1)
    assert spectrum[0] < 1e-10
    assert abs(float(jnp.mean(fields))) < 0.05 * float(jnp.std(fields))


def test_fields_are_reproducible_from_the_key():
    grid = PeriodicGrid((16, 16))
    a = gaussian_random_field(jax.random.PRNGKey(3), grid)
    b = gaussian_random_field(jax.random.PRNGKey(3), grid)
    c = gaussian_random_field(jax.random.PRNGKey(4), grid)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert a.shape == (16, 16) and a.dtype == jnp.float32


def test_random_fourier_series_is_band_limited_with_zero_mean():
    grid = PeriodicGrid((256,), 64.0)
    u = random_fourier_series(jax.random.PRNGKey(0), grid, n_terms=10, max_frequency=3)
    spectrum = np.abs(np.fft.rfft(np.asarray(u, np.float64)))
    assert spectrum[4:].max() < 1e-3 * spectrum[1:4].max()
    assert abs(spectrum[0]) < 1e-3 * spectrum[1:4].max()


def test_threshold_gives_the_two_valued_darcy_coefficient():
    grid = PeriodicGrid((32, 32))
    a = threshold(gaussian_random_field(jax.random.PRNGKey(1), grid, alpha=2.0, tau=3.0))
    assert set(np.unique(np.asarray(a))) == {3.0, 12.0}
