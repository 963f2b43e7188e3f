"""Energy spectra: single modes land in their shell; Parseval in 1D."""

import numpy as np

from opjax.metrics.spectra import energy_spectrum


def test_a_single_mode_lands_in_its_shell_with_its_energy():
    x = np.arange(32) / 32
    u = (3.0 * np.cos(2 * np.pi * 5 * x))[None, :, None]
    k, e = energy_spectrum(u)
    assert k[-1] == 16 and e.shape == (1, 17, 1)
    np.testing.assert_allclose(e[0, 5, 0], 4.5)  # mean of u^2 = 9 / 2
    np.testing.assert_allclose(np.delete(e[0, :, 0], 5), 0, atol=1e-20)


def test_parseval_in_1d_and_shells_in_2d():
    u = np.random.default_rng(0).normal(size=(2, 64, 3))
    _, e = energy_spectrum(u)
    np.testing.assert_allclose(e.sum(axis=1), (u**2).mean(axis=1))
    xy = np.stack(np.meshgrid(np.arange(32) / 32, np.arange(32) / 32, indexing="ij"), -1)
    v = np.sin(2 * np.pi * (3 * xy[..., 0] + 4 * xy[..., 1]))[None, ..., None]
    _, e2 = energy_spectrum(v)
    assert np.argmax(e2[0, :, 0]) == 5  # |(3, 4)| = 5
    np.testing.assert_allclose(e2[0, 5, 0], 0.5)
