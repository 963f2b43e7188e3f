"""Random input fields: seeded, reproducible, jit- and vmap-able.

On a periodic grid (:class:`~opjax.solvers.grid.PeriodicGrid`):

* :func:`gaussian_random_field`: mean-zero Gaussian field with covariance
  ``sigma^2 (-Laplacian + tau^2)^(-alpha)`` (the FNO paper's inputs: Burgers uses
  ``alpha = 2.5, tau = 7, sigma = 7^2`` on ``[0, 1)``; Darcy ``alpha = 2, tau = 3``).
  Each Fourier mode is an independent complex normal with variance
  ``sigma^2 (|k|^2 + tau^2)^(-alpha)``, ``k`` the angular wavenumber; the mean mode is 0.
* :func:`random_fourier_series`: ``sum_j A_j sin(2 pi m_j x / L + phi_j)`` with random
  integer frequencies ``m_j in [1, max_frequency]``, amplitudes ``A_j ~ U(-a, a)`` and
  phases ``phi_j ~ U(0, 2 pi)`` (PDE-Refiner's Kuramoto-Sivashinsky initial conditions;
  1D, or along the first axis of a higher-dimensional grid).
* :func:`truncated_fourier_series`: ``sum_{k=1}^{K} a_k cos(2 pi k x / L + phi_k)``,
  ``a_k ~ U(-1, 1)``, ``phi_k ~ U(0, 2 pi)``, one term per wavenumber up to the cutoff
  ``K``, scaled to maximum absolute value 1 (APEBench's default initial condition
  ``"fourier;5;true;true"``, exponax's ``RandomTruncatedFourierSeries`` with zero mean and
  ``max_one``; 1D).
* :func:`threshold`: ``high`` where a field is >= 0, ``low`` elsewhere; with a GRF this is
  the FNO paper's two-valued Darcy permeability (``high = 12, low = 3``).

On the node grid of the unit cube ``[0, 1]^d`` boundary included, ``x_i = i / (N - 1)``,
``i = 0 .. N-1`` per axis (the grid of :class:`~opjax.solvers.equations.darcy.Darcy2D`):

* :func:`cosine_random_field`: mean-zero Gaussian field with covariance
  ``sigma^2 (-Laplacian + tau^2)^(-alpha)``, Laplacian with zero Neumann boundary, as a
  cosine series (the FNO paper's Darcy input; threshold it for the permeability).
* :func:`cosine_random_field_at`: the same series, truncated to a few modes per axis,
  evaluated at arbitrary points of a box mapped onto the cube (the DOF points of a
  finite-element mesh), scaled to a given standard deviation.
* :func:`piecewise_constant_field`: constant on each block of an ``n_cells^d`` partition of
  the cube, block values uniform in ``[low, high]`` (the other common Darcy coefficient).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

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


def truncated_fourier_series(
    key: jax.Array, grid: PeriodicGrid, cutoff: int = 5, dtype=jnp.float32
) -> jax.Array:
    """One sample ``[n]`` of the zero-mean truncated Fourier series above (1D grid)."""
    k_amp, k_phase = jax.random.split(key)
    a = jax.random.uniform(k_amp, (cutoff,), dtype, -1.0, 1.0)
    phi = jax.random.uniform(k_phase, (cutoff,), dtype, 0.0, 2.0 * math.pi)
    k = jnp.arange(1, cutoff + 1, dtype=dtype)[None]
    x = grid.coordinates(dtype)[..., :1]  # [n, 1]
    u = jnp.sum(a[None] * jnp.cos(2.0 * math.pi * k * x / grid.lengths[0] + phi[None]), axis=-1)
    return u / jnp.max(jnp.abs(u))


def threshold(field: jax.Array, high: float = 12.0, low: float = 3.0) -> jax.Array:
    """``high`` where ``field >= 0``, else ``low``."""
    return jnp.where(field >= 0, high, low).astype(field.dtype)


def cosine_random_field(
    key: jax.Array,
    shape: int | Sequence[int],
    alpha: float = 2.0,
    tau: float = 3.0,
    sigma: float | None = None,
    dtype=jnp.float32,
) -> jax.Array:
    """One sample ``[*shape]`` of a Gaussian random field on ``[0, 1]^d`` with a Neumann
    boundary, on the node grid ``x_i = i / (N_a - 1)`` (boundary nodes included).

    The field is the Karhunen-Loeve expansion of ``N(0, sigma^2 (-Laplacian + tau^2)^(-alpha))``
    with the Neumann Laplacian, whose eigenfunctions are cosines:

        psi(x) = sum_{k != 0} sigma (pi^2 |k|^2 + tau^2)^(-alpha/2) xi_k phi_k(x),
        phi_k(x) = prod_a c_{k_a} cos(pi k_a x_a),   c_0 = 1, c_{k>0} = sqrt(2),

    over ``k_a = 0 .. N_a - 1`` (all the cosines the grid resolves: on ``N`` nodes they form
    the DCT-I basis), with ``xi_k ~ N(0, 1)`` independent and the constant mode ``k = 0``
    left out (zero mean over the cube). ``phi_k`` has unit ``L^2([0, 1]^d)`` norm, so the
    ``k``-th DCT-I coefficient of the samples has variance
    ``sigma^2 (pi^2 |k|^2 + tau^2)^(-alpha) prod_a c_{k_a}^2``, and the pointwise variance,
    averaged over the cube, is ``sum_{k != 0} sigma^2 (pi^2 |k|^2 + tau^2)^(-alpha)``
    (about 0.085, a standard deviation of 0.29, for the FNO values below in 2D; it is
    larger near the boundary and smaller at the centre). Every ``psi`` is even about each
    face: ``d psi / dn = 0`` on the boundary. ``alpha > d / 2`` gives a continuous field.

    ``sigma = None`` means ``tau^(alpha - 1)``, the normalisation of FNO's ``GRF.m``
    (covariance ``tau^(2 alpha - 2) (-Laplacian + tau^2)^(-alpha)``); FNO's Darcy data use
    ``alpha = 2, tau = 3`` (so ``sigma = 3``) thresholded at 0 to ``a in {12, 3}``
    (:func:`threshold`). ``GRF.m`` evaluates the same series at the cell centres
    ``(i + 1/2) / N`` rather than at the nodes; after thresholding the two are the same
    random field sampled half a cell apart.

    Args:
        key: PRNG key.
        shape: points per axis ``(N_1, ..., N_d)``, each ``N_a >= 2`` (an int for 1D).
        alpha, tau: smoothness and inverse length scale.
        sigma: amplitude; ``None`` for ``tau^(alpha - 1)``.
        dtype: float dtype of the result.
    """
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)
    if not shape or any(n < 2 for n in shape):
        raise ValueError(f"cosine_random_field: shape needs >= 2 points per axis; got {shape}")
    if sigma is None:
        sigma = tau ** (alpha - 1.0)
    rank = len(shape)
    k2 = jnp.zeros((1,) * rank, dtype)
    weight = jnp.ones((1,) * rank, dtype)
    for a, n in enumerate(shape):
        axis_shape = [1] * rank
        axis_shape[a] = n
        k = jnp.arange(n, dtype=dtype).reshape(axis_shape)
        k2 = k2 + k**2
        weight = weight * jnp.where(k == 0, 1.0, math.sqrt(2.0)).astype(dtype)
    amplitude = sigma * (math.pi**2 * k2 + tau**2) ** (-alpha / 2.0) * weight
    amplitude = amplitude.at[(0,) * rank].set(0.0)
    field = amplitude * jax.random.normal(key, shape, dtype)
    for a, n in enumerate(shape):
        # cos(pi k i / (N - 1)) with the phase reduced exactly in integers first.
        i = np.arange(n)
        phase = (i[:, None] * i[None, :]) % (2 * (n - 1))  # [points, modes]
        cosines = jnp.cos((math.pi / (n - 1)) * jnp.asarray(phase, dtype))
        field = jnp.moveaxis(jnp.tensordot(cosines, field, axes=((1,), (a,))), 0, a)
    return field


def cosine_random_field_at(
    key: jax.Array,
    points: jax.Array | np.ndarray,
    lower: Sequence[float],
    upper: Sequence[float],
    n_modes: int = 16,
    alpha: float = 2.0,
    tau: float = 3.0,
    std: float = 1.0,
    dtype=jnp.float32,
) -> jax.Array:
    """One sample ``[n_points]`` of the Neumann Gaussian random field of
    :func:`cosine_random_field`, at ``points`` of the box ``[lower, upper]``.

    The box is mapped onto the unit cube, ``y_a = (x_a - lower_a) / (upper_a - lower_a)``,
    and the Karhunen-Loeve series is truncated to the modes ``k_a = 0 .. n_modes - 1``:

        psi(x) = sum_{k != 0} s_k xi_k phi_k(y),    s_k = c (pi^2 |k|^2 + tau^2)^(-alpha/2),
        phi_k(y) = prod_a c_{k_a} cos(pi k_a y_a),  c_0 = 1, c_{k>0} = sqrt(2),

    ``xi_k ~ N(0, 1)`` independent, drawn exactly as :func:`cosine_random_field` draws them
    for a grid of ``n_modes`` points per axis (so at that grid's nodes the two agree up to
    the amplitude). The ``phi_k`` are orthonormal in ``L^2`` of the cube, so the pointwise
    variance averaged over the box is ``sum_k s_k^2``; ``c`` makes it ``std^2``. The field
    has zero mean over the box (not over a domain inside it), and zero normal derivative on
    the box's faces. Its length scale is ``1 / tau`` of the box's side.

    Args:
        key: PRNG key.
        points: ``[n_points, d]`` the points, inside the box.
        lower, upper: ``[d]`` the box's corners (``upper_a > lower_a``).
        n_modes: cosines per axis (``>= 2``).
        alpha, tau: smoothness and inverse length scale (in units of the box).
        std: the box-averaged pointwise standard deviation.
        dtype: float dtype of the result.
    """
    points = jnp.asarray(points, dtype)
    lower, upper = np.asarray(lower, np.float64), np.asarray(upper, np.float64)
    if points.ndim != 2 or lower.shape != (points.shape[1],) or upper.shape != lower.shape:
        raise ValueError(
            "cosine_random_field_at: points must be [n_points, d] and lower, upper [d]; got "
            f"{points.shape}, {lower.shape}, {upper.shape}"
        )
    if n_modes < 2 or np.any(upper <= lower):
        raise ValueError(
            f"cosine_random_field_at: needs n_modes >= 2 and upper > lower; got {n_modes}, "
            f"lower {lower.tolist()}, upper {upper.tolist()}"
        )
    rank = points.shape[1]
    wavenumbers = np.meshgrid(*[np.arange(n_modes)] * rank, indexing="ij")
    spectrum = (math.pi**2 * sum(k**2 for k in wavenumbers) + tau**2) ** (-alpha / 2.0)
    spectrum[(0,) * rank] = 0.0
    spectrum *= std / np.sqrt(np.sum(spectrum**2))
    normalisation = np.prod([np.where(k == 0, 1.0, math.sqrt(2.0)) for k in wavenumbers], 0)
    amplitude = jnp.asarray(spectrum * normalisation, dtype)
    field = amplitude * jax.random.normal(key, (n_modes,) * rank, dtype)
    unit = (points - jnp.asarray(lower[None], dtype)) / jnp.asarray((upper - lower)[None], dtype)
    k = jnp.arange(n_modes, dtype=dtype)
    # Contract one axis of the coefficients at a time with that axis' cosines [n_points, m]:
    # the first turns the mode axis into the point axis, the others sum along it per point.
    cosines = jnp.cos(math.pi * unit[:, :1] * k[None, :])
    field = jnp.tensordot(cosines, field, axes=((1,), (0,)))
    for a in range(1, rank):
        cosines = jnp.cos(math.pi * unit[:, a : a + 1] * k[None, :])
        field = jnp.einsum("pk,pk...->p...", cosines, field)
    return field


def piecewise_constant_field(
    key: jax.Array,
    shape: int | Sequence[int],
    n_cells: int | Sequence[int],
    low: float = 3.0,
    high: float = 12.0,
    dtype=jnp.float32,
) -> jax.Array:
    """One sample ``[*shape]`` of a field constant on each block of an even partition of
    ``[0, 1]^d`` into ``n_cells_1 x ... x n_cells_d`` blocks, each block's value drawn
    independently and uniformly from ``[low, high]``.

    On the node grid ``x_i = i / (N - 1)`` the node ``i`` of an axis with ``n`` cells lies
    in block ``min(floor(n i / (N - 1)), n - 1)`` (a node on an interface joins the block
    above it; the last node joins the last block). With ``N - 1`` divisible by ``n`` every
    block spans ``(N - 1) / n`` grid intervals.

    Args:
        key: PRNG key.
        shape: points per axis ``(N_1, ..., N_d)``, each ``N_a >= 2`` (an int for 1D).
        n_cells: blocks per axis (an int for the same number on every axis).
        low, high: the range of the block values.
        dtype: float dtype of the result.
    """
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)
    if isinstance(n_cells, (int, np.integer)):
        n_cells = (int(n_cells),) * len(shape)
    n_cells = tuple(int(n) for n in n_cells)
    if not shape or any(n < 2 for n in shape) or len(n_cells) != len(shape):
        raise ValueError(
            f"piecewise_constant_field: shape needs >= 2 points per axis and n_cells one "
            f"count per axis; got shape {shape}, n_cells {n_cells}"
        )
    if any(c < 1 for c in n_cells):
        raise ValueError(f"piecewise_constant_field: n_cells must be >= 1; got {n_cells}")
    values = jax.random.uniform(key, n_cells, dtype, low, high)
    blocks = [np.minimum(c * np.arange(n) // (n - 1), c - 1) for n, c in zip(shape, n_cells)]
    return values[np.ix_(*blocks)]
