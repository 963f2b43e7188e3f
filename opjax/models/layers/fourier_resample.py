"""Resampling of square periodic fields by truncating or zero-padding their Fourier series
(Poseidon's ``ScOT._upsample`` / ``_downsample``), channels-last ``[batch, n, n, C]``.

With ``X = FFT2(x) / n^2`` (the ``"forward"`` normalisation) on the two spatial axes:

* :func:`fourier_upsample` ``n -> m > n``: centre the spectrum (``fftshift``), zero-pad
  ``(m - n) / 2`` on every side, un-centre, ``y = Re IFFT2(X')`` without rescaling. For
  even ``n`` the Nyquist row/column ``-n/2`` stays a single (unsplit) frequency.
* :func:`fourier_downsample` ``n -> m < n``: keep the integer frequencies
  ``-m/2 <= k <= m/2 - 1`` on both axes (in FFT order), ``y = Re IFFT2(X')``.

Both keep the amplitude of every retained Fourier mode.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def fourier_upsample(x: jax.Array, size: int) -> jax.Array:
    """``[b, n, n, C] -> [b, size, size, C]``; ``size - n`` must be even and positive."""
    n = x.shape[1]
    if size <= n or (size - n) % 2:
        raise ValueError(f"Fourier upsampling {n} -> {size} needs an even, positive increase")
    pad = (size - n) // 2
    spectrum = jnp.fft.fftshift(jnp.fft.fft2(x, axes=(1, 2), norm="forward"), axes=(1, 2))
    spectrum = jnp.pad(spectrum, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    spectrum = jnp.fft.ifftshift(spectrum, axes=(1, 2))
    return jnp.fft.ifft2(spectrum, axes=(1, 2), norm="forward").real.astype(x.dtype)


def fourier_downsample(x: jax.Array, size: int) -> jax.Array:
    """``[b, n, n, C] -> [b, size, size, C]`` with ``size < n``."""
    n = x.shape[1]
    if size >= n:
        raise ValueError(f"Fourier downsampling {n} -> {size} needs a smaller size")
    freqs = np.fft.fftfreq(n, d=1.0 / n)
    keep = np.nonzero((freqs >= -size / 2) & (freqs <= size / 2 - 1))[0]
    spectrum = jnp.fft.fft2(x, axes=(1, 2), norm="forward")
    spectrum = jnp.take(jnp.take(spectrum, keep, axis=1), keep, axis=2)
    return jnp.fft.ifft2(spectrum, axes=(1, 2), norm="forward").real.astype(x.dtype)
