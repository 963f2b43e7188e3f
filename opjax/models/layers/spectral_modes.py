"""The truncated Fourier modes of a spectral convolution, shared by its implementations.

Kept wavenumbers along an axis (``m`` kept modes): every axis but the last keeps the ``m``
lowest frequencies of both signs, ``k in {-(m // 2), ..., m - m // 2 - 1}`` (weight index
``i`` holds frequency ``i - m // 2``); the last axis is transformed with a real FFT and keeps
``k in {0, ..., m // 2}`` (neuraloperator's convention). A grid of ``N`` points represents
``|k| <= N / 2`` only; the other kept frequencies are dropped on that grid.

The channel mixing ``W(k) z(k)`` and the transform's normalisation are the same for the
FFT path (:mod:`opjax.models.layers.spectral_conv`) and the truncated-DFT path
(:mod:`opjax.models.layers.cpu_kernels`).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np


def kept_frequencies(n_modes: int, *, real_axis: bool) -> np.ndarray:
    """The signed frequencies a weight of ``n_modes`` holds along one axis, in weight order."""
    if real_axis:
        return np.arange(n_modes // 2 + 1)
    return np.arange(n_modes) - n_modes // 2


def representable(freqs: np.ndarray, n_points: int, *, real_axis: bool) -> np.ndarray:
    """Mask of the frequencies a grid of ``n_points`` resolves (Nyquist included)."""
    if real_axis:
        return freqs <= n_points // 2
    return (freqs >= -(n_points // 2)) & (freqs <= (n_points - 1) // 2)


def transform_scales(grid, fft_norm: str) -> tuple[float, float]:
    """The factors of the forward and the inverse transform under ``fft_norm``
    (``"forward"``: ``1 / prod(N)`` on the forward transform; ``"backward"``: on the
    inverse; ``"ortho"``: ``1 / sqrt(prod(N))`` on each)."""
    points = math.prod(grid)
    return {
        "forward": (1.0 / points, 1.0),
        "backward": (1.0, 1.0 / points),
        "ortho": (1.0 / math.sqrt(points), 1.0 / math.sqrt(points)),
    }[fft_norm]


def hermitian_weights(freqs: np.ndarray, n_points: int) -> np.ndarray:
    """Weight of each real-axis rfft coefficient in the inverse: it stands for itself and
    its conjugate (2), except DC and Nyquist (1)."""
    return np.where((freqs == 0) | (2 * freqs == n_points), 1.0, 2.0)


def mix_modes(z: jax.Array, w_re: jax.Array, w_im: jax.Array) -> jax.Array:
    """Per-mode complex channel mixing ``[2, *k, b, i] x [*k, i, o] -> [2, *k, b, o]``.

    Axis 0 of ``z`` holds the real and imaginary parts. Written as one real matmul per mode,
    ``[re, im] [[W_re, W_im], [-W_im, W_re]] = [re W_re - im W_im, re W_im + im W_re]``.
    """
    out_channels = w_re.shape[-1]
    stacked = jnp.concatenate([z[0], z[1]], axis=-1)  # [*k, b, 2i]
    block = jnp.concatenate(
        [jnp.concatenate([w_re, w_im], axis=-1), jnp.concatenate([-w_im, w_re], axis=-1)],
        axis=-2,
    )  # [*k, 2i, 2o]
    y = jnp.einsum("...bi,...io->...bo", stacked, block)
    return jnp.stack([y[..., :out_channels], y[..., out_channels:]])
