"""Random input fields on a periodic grid: seeded, reproducible, jit- and vmap-able.

* :func:`gaussian_random_field`: mean-zero Gaussian field with covariance
  ``sigma^2 (-Laplacian + tau^2)^(-alpha)`` (the FNO paper's inputs: Burgers uses
  ``alpha = 2.5, tau = 7, sigma = 7^2`` on ``[0, 1)``; Darcy ``alpha = 2, tau = 3``).
  Each Fourier mode is an independent complex normal with variance
  ``sigma^2 (|k|^2 + tau^2)^(-alpha)``, ``k`` the angular wavenumber; the mean mode is 0.
* :func:`random_fourier_series`: ``sum_j A_j sin(2 pi m_j x / L + phi_j)`` with random
  integer frequencies ``m_j in [1, max_frequency]``, amplitudes ``A_j ~ U(-a, a)`` and
  phases ``phi_j ~ U(0, 2 pi)`` (PDE-Refiner's Kuramoto-Sivashinsky initial conditions;
  1D, or along the first axis of a higher-dimensional grid).
* :func:`threshold`: ``high`` where a field is >= 0, ``low`` elsewhere; with a GRF this is
  the FNO paper's two-valued Darcy permeability (``high = 12, low = 3``).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from opjax.solvers.grid import PeriodicGrid


def gaussian_random_field(
    key: jax.Array,
    grid: PeriodicGrid,
    alpha: float = 2.0,
    tau: float = 3.0,
    sigma: float = 1.0,
    dtype=jnp.float32,
) -> jax.Array:
    """One sample ``[*grid.shape]`` of the Gaussian random field described above."""
    power = sigma**2 * (-grid.laplacian_symbol(dtype) + tau**2) ** (-alpha)
    power = power.at[(0,) * grid.rank].set(0.0)
    re_key, im_key = jax.random.split(key)
    shape = grid.spectrum_shape
    # Complex normal with E|xi|^2 = 1; scaled so that the mode's variance is `power`.
    xi = jax.random.normal(re_key, shape, dtype) + 1j * jax.random.normal(im_key, shape, dtype)
    xi = xi / math.sqrt(2.0)
    n_points = math.prod(grid.shape)
    # irfftn divides by prod(N); a field sum_k c_k e^{ikx} has rfftn coefficients N c_k.
    return grid.irfft(n_points * jnp.sqrt(power) * xi)


def random_fourier_series(
    key: jax.Array,
    grid: PeriodicGrid,
    n_terms: int = 10,
    max_frequency: int = 3,
    amplitude: float = 1.0,
    dtype=jnp.float32,
) -> jax.Array:
    """One sample ``[*grid.shape]`` of the random sine series described above."""
    k_freq, k_amp, k_phase = jax.random.split(key, 3)
    m = jax.random.randint(k_freq, (n_terms,), 1, max_frequency + 1).astype(dtype)
    a = jax.random.uniform(k_amp, (n_terms,), dtype, -amplitude, amplitude)
    phi = jax.random.uniform(k_phase, (n_terms,), dtype, 0.0, 2.0 * math.pi)
    x = grid.coordinates(dtype)[..., :1]  # first axis, [*shape, 1]
    terms = (1,) * grid.rank + (n_terms,)
    phase = 2.0 * math.pi * x * m.reshape(terms) / grid.lengths[0] + phi.reshape(terms)
    return jnp.sum(a.reshape(terms) * jnp.sin(phase), axis=-1)


def threshold(field: jax.Array, high: float = 12.0, low: float = 3.0) -> jax.Array:
    """``high`` where ``field >= 0``, else ``low``."""
    return jnp.where(field >= 0, high, low).astype(field.dtype)
