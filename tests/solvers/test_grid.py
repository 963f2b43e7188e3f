import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.solvers import PeriodicGrid


@jax.enable_x64(True)
@pytest.mark.parametrize(
    "shape, lengths", [((32,), 2 * math.pi), ((24, 20), (1.0, 3.0)), ((8, 10, 12), 1.0)]
)
def test_fft_derivatives_are_exact_for_band_limited_fields(shape, lengths):
    grid = PeriodicGrid(shape, lengths)
    x = grid.coordinates(jnp.float64)
    k = [2 * math.pi * 2 / length for length in grid.lengths]  # frequency 2 on every axis
    phase = sum(k[a] * x[..., a] for a in range(grid.rank))
    u = jnp.sin(phase)[None]  # a leading batch axis passes through
    for axis in range(grid.rank):
        np.testing.assert_allclose(
            grid.derivative(u, axis), k[axis] * jnp.cos(phase)[None], atol=1e-10
        )
        np.testing.assert_allclose(
            grid.derivative(u, axis, order=2), -(k[axis] ** 2) * jnp.sin(phase)[None], atol=1e-9
        )
        np.testing.assert_allclose(
            grid.derivative(u, axis, order=4),
            k[axis] ** 4 * jnp.sin(phase)[None],
            atol=1e-7 * k[axis] ** 4,
        )


def test_odd_derivative_of_the_nyquist_mode_is_zero():
    grid = PeriodicGrid((8,), 1.0)
    u = jnp.cos(math.pi * jnp.arange(8))  # (-1)^i, the Nyquist mode
    np.testing.assert_allclose(grid.derivative(u), 0.0, atol=1e-5)


def test_dealias_mask_is_the_two_thirds_rule():
    grid = PeriodicGrid((12, 12))
    mask = grid.dealias_mask()
    assert mask.shape == (12, 7)
    kept_first = sorted(int(m) for m in np.fft.fftfreq(12, 1 / 12)[mask[:, 0]])
    assert kept_first == [-3, -2, -1, 0, 1, 2, 3]
    assert mask[0].tolist() == [True] * 4 + [False] * 3


def test_wavenumbers_and_laplacian_symbol():
    grid = PeriodicGrid((16, 8), (2.0, 4.0))
    kx, ky = grid.wavenumbers()
    assert kx.shape == (16, 1) and ky.shape == (1, 5)
    assert float(kx[1, 0]) == pytest.approx(math.pi) and float(ky[0, 1]) == pytest.approx(
        math.pi / 2
    )
    assert float(grid.laplacian_symbol()[1, 1]) == pytest.approx(-(math.pi**2) * 1.25, rel=1e-6)


def test_bad_grids_and_fields_are_clear_errors():
    with pytest.raises(ValueError, match="1 to 3 axes"):
        PeriodicGrid((4, 4, 4, 4))
    with pytest.raises(ValueError, match="positive lengths"):
        PeriodicGrid((8,), -1.0)
    with pytest.raises(ValueError, match=r"does not end in the grid shape \(8,\)"):
        PeriodicGrid((8,)).rfft(jnp.zeros((3, 9)))
