"""Random coefficient fields on the node grid of [0, 1]^d: the Neumann cosine random field
(per-mode variances against the formula, zero normal derivative, zero mean) and the
piecewise-constant field (block structure, value distribution); the cosine field at
arbitrary points of a box (the grid series at the grid's nodes, its standard deviation)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.fft import idctn
from scipy.stats import kstest

from opjax.solvers import cosine_random_field, cosine_random_field_at, piecewise_constant_field


def _dct1_coefficients(field):
    """``b_k`` with ``field_i = sum_k b_k prod_a cos(pi k_a i_a / (N_a - 1))`` (scipy's DCT-I)."""
    field = np.asarray(field)
    axes = tuple(range(1, field.ndim))
    b = idctn(field, type=1, axes=axes)
    for axis in axes:
        n = field.shape[axis]
        weight = np.full(n, 2.0)
        weight[[0, -1]] = 1.0
        shape = [1] * field.ndim
        shape[axis] = n
        b = b * weight.reshape(shape)
    return b


@jax.enable_x64(True)
@pytest.mark.parametrize("alpha, tau, sigma", [(2.0, 3.0, None), (3.0, 5.0, 2.0)])
def test_cosine_field_mode_variances_match_the_formula(alpha, tau, sigma):
    shape = (9, 7)
    n_samples = 4000
    keys = jax.random.split(jax.random.PRNGKey(0), n_samples)
    sample = jax.jit(
        jax.vmap(lambda k: cosine_random_field(k, shape, alpha, tau, sigma, jnp.float64))
    )
    b = _dct1_coefficients(sample(keys))  # [n_samples, 9, 7]
    k1, k2 = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    c2 = np.where(k1 == 0, 1.0, 2.0) * np.where(k2 == 0, 1.0, 2.0)
    amplitude = tau ** (alpha - 1) if sigma is None else sigma
    expected = amplitude**2 * (np.pi**2 * (k1**2 + k2**2) + tau**2) ** (-alpha) * c2
    np.testing.assert_allclose(b[:, 0, 0], 0.0, atol=1e-13)  # no mean mode
    ratio = (b**2).mean(axis=0).ravel()[1:] / expected.ravel()[1:]
    # Each ratio is a mean of 4000 chi-squared(1) variables: std sqrt(2 / 4000) = 0.022.
    assert np.abs(ratio - 1.0).max() < 0.12, ratio
    # Independent modes: the correlations between coefficients are noise, ~ 1 / sqrt(4000).
    flat = b.reshape(n_samples, -1)[:, 1:]
    corr = np.corrcoef(flat.T)
    assert np.abs(corr - np.eye(len(corr))).max() < 0.1


@jax.enable_x64(True)
def test_cosine_field_has_zero_normal_derivative_on_the_boundary():
    s = 65
    h = 1.0 / (s - 1)
    keys = jax.random.split(jax.random.PRNGKey(1), 4)
    fields = jax.jit(
        jax.vmap(lambda k: cosine_random_field(k, (s, s), alpha=4.0, dtype=jnp.float64))
    )(keys)
    f = np.asarray(fields)
    # Second-order one-sided normal derivatives on the four sides (away from the field's
    # own scale, a periodic field of the same smoothness gives ratios ~2, not ~0.005).
    sides = [f[:, :3], f[:, ::-1][:, :3], f.swapaxes(1, 2)[:, :3], f.swapaxes(1, 2)[:, ::-1][:, :3]]
    normal = np.stack([(-3 * v[:, 0] + 4 * v[:, 1] - v[:, 2]) / (2 * h) for v in sides])
    gx = (f[:, 2:, 1:-1] - f[:, :-2, 1:-1]) / (2 * h)
    gy = (f[:, 1:-1, 2:] - f[:, 1:-1, :-2]) / (2 * h)
    assert np.abs(normal).max() < 0.05 * np.sqrt(np.mean(gx**2 + gy**2))


@jax.enable_x64(True)
@pytest.mark.parametrize("shape", [33, (5, 6, 7)])
def test_cosine_field_has_zero_trapezoidal_mean_in_any_rank(shape):
    sample = jax.jit(lambda k: cosine_random_field(k, shape, dtype=jnp.float64))
    f = np.asarray(sample(jax.random.PRNGKey(2)))
    assert f.shape == ((shape,) if isinstance(shape, int) else shape)
    for _ in range(f.ndim):  # trapezoidal weights: the constant mode of the DCT-I
        f = (f.sum(axis=0) - 0.5 * (f[0] + f[-1])) / (f.shape[0] - 1)
    assert abs(float(f)) < 1e-13
    assert np.std(np.asarray(sample(jax.random.PRNGKey(2)))) > 0.01


def test_cosine_field_is_seeded_and_batches_under_jit_and_vmap():
    shape = (17, 17)
    keys = jax.random.split(jax.random.PRNGKey(3), 3)
    batched = jax.jit(jax.vmap(lambda k: cosine_random_field(k, shape)))(keys)
    assert batched.shape == (3, *shape) and batched.dtype == jnp.float32
    one = jax.jit(lambda k: cosine_random_field(k, shape))
    for i, key in enumerate(keys):
        np.testing.assert_allclose(batched[i], one(key), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(one(keys[0]), one(keys[0]))
    assert np.abs(np.asarray(batched[0] - batched[1])).max() > 0.1
    with pytest.raises(ValueError, match="shape"):
        cosine_random_field(keys[0], (1, 8))


def test_piecewise_constant_field_is_constant_on_even_blocks():
    shape, n_cells = (33, 10), (4, 3)
    field = np.asarray(
        jax.jit(lambda k: piecewise_constant_field(k, shape, n_cells, 3.0, 12.0))(
            jax.random.PRNGKey(4)
        )
    )
    assert field.shape == shape
    # Node i of an axis with N points and n cells sits at x = i / (N - 1) in [b/n, (b+1)/n).
    blocks = [
        np.minimum(np.floor(n * np.arange(size) / (size - 1)).astype(int), n - 1)
        for size, n in zip(shape, n_cells)
    ]
    assert blocks[0].tolist() == [0] * 8 + [1] * 8 + [2] * 8 + [3] * 9
    for b0 in range(n_cells[0]):
        for b1 in range(n_cells[1]):
            block = field[np.ix_(blocks[0] == b0, blocks[1] == b1)]
            assert block.size > 0 and (block == block.flat[0]).all()
    assert len(np.unique(field)) == math.prod(n_cells)
    assert field.min() >= 3.0 and field.max() < 12.0


def test_piecewise_constant_values_are_uniform_and_seeded():
    keys = jax.random.split(jax.random.PRNGKey(5), 500)
    sample = jax.jit(jax.vmap(lambda k: piecewise_constant_field(k, 9, 2, -1.0, 3.0)))
    fields = np.asarray(sample(keys))  # [500, 9], 1D, 2 blocks
    values = np.concatenate([fields[:, 0], fields[:, -1]])
    assert (fields[:, :4] == fields[:, :1]).all() and (fields[:, 4:] == fields[:, -1:]).all()
    assert kstest((values + 1.0) / 4.0, "uniform").pvalue > 1e-3
    np.testing.assert_array_equal(sample(keys), fields)
    assert len(np.unique(fields[:, 0])) == len(keys)
    with pytest.raises(ValueError, match="n_cells"):
        piecewise_constant_field(keys[0], (8, 8), (2, 2, 2))


def test_the_field_at_points_is_the_grid_series_at_the_grid_nodes():
    """At the nodes of an ``n x n`` grid over its box, with ``n`` modes per axis, the series
    at points is the grid's (same key, same draws), rescaled to unit box-averaged std."""
    n, alpha, tau = 9, 2.0, 3.0
    key = jax.random.PRNGKey(3)
    with jax.enable_x64(True):
        grid = cosine_random_field(key, (n, n), alpha, tau, 1.0, jnp.float64)
        x = np.linspace(-1.0, 1.0, n)
        points = np.stack([a.ravel() for a in np.meshgrid(x, x, indexing="ij")], axis=-1)
        at = cosine_random_field_at(
            key, points, [-1.0, -1.0], [1.0, 1.0], n, alpha, tau, 1.0, jnp.float64
        )
    k = np.arange(n)
    variance = (np.pi**2 * (k[:, None] ** 2 + k[None, :] ** 2) + tau**2) ** (-alpha)
    variance[0, 0] = 0.0
    np.testing.assert_allclose(
        np.asarray(at).reshape(n, n), np.asarray(grid) / np.sqrt(variance.sum()), atol=1e-13
    )


def test_the_field_at_points_has_the_standard_deviation_asked_for():
    keys = jax.random.split(jax.random.PRNGKey(0), 512)
    points = np.random.default_rng(0).uniform(0.0, 2.0, (64, 2))
    fields = jax.jit(
        jax.vmap(lambda k: cosine_random_field_at(k, points, [0.0, 0.0], [2.0, 2.0], std=3.0))
    )(keys)
    assert fields.shape == (512, 64)
    assert 2.7 < float(jnp.std(fields)) < 3.3  # box-averaged; larger near the faces
