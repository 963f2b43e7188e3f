"""Uniform periodic grids and their Fourier calculus.

A :class:`PeriodicGrid` covers ``[0, L_1) x ... x [0, L_d)`` with ``N_a`` points per axis,
``x_a = i L_a / N_a``. Fields are arrays whose trailing ``d`` axes are the grid,
``u [..., N_1, ..., N_d]``; leading axes (batch, channels moved first) pass through.
Spectra are those of ``rfftn`` over the grid axes, shape ``[..., N_1, ..., N_d // 2 + 1]``.

With ``k_a = 2 pi m_a / L_a`` (``m_a`` the integer frequency), derivatives are exact for
band-limited fields:

    d^p u / dx_a^p = irfftn( (i k_a)^p rfftn(u) ),

where for odd ``p`` the Nyquist frequency of an even-length axis is set to zero (its
derivative is not real). :meth:`PeriodicGrid.dealias_mask` is Orszag's 2/3 rule: keep the
modes with ``|m_a| < N_a / 3`` on every axis.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class PeriodicGrid:
    """A uniform periodic grid.

    Attributes:
        shape: points per axis ``(N_1, ..., N_d)``.
        lengths: domain length per axis ``(L_1, ..., L_d)``.
    """

    shape: tuple[int, ...]
    lengths: tuple[float, ...]

    def __init__(self, shape: Sequence[int], lengths: float | Sequence[float] = 1.0):
        shape = tuple(int(n) for n in shape)
        if isinstance(lengths, (int, float)):
            lengths = (float(lengths),) * len(shape)
        lengths = tuple(float(length) for length in lengths)
        if not 1 <= len(shape) <= 3 or len(lengths) != len(shape):
            raise ValueError(f"a grid has 1 to 3 axes with one length each; got {shape}, {lengths}")
        if any(n < 2 for n in shape) or any(length <= 0 for length in lengths):
            raise ValueError(f"grid needs >= 2 points and positive lengths; got {shape}, {lengths}")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "lengths", lengths)

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def spacing(self) -> tuple[float, ...]:
        return tuple(length / n for length, n in zip(self.lengths, self.shape))

    @property
    def spectrum_shape(self) -> tuple[int, ...]:
        return (*self.shape[:-1], self.shape[-1] // 2 + 1)

    def coordinates(self, dtype=jnp.float32) -> jax.Array:
        """Grid points ``[N_1, ..., N_d, d]``."""
        axes = [
            jnp.arange(n, dtype=dtype) * (length / n) for n, length in zip(self.shape, self.lengths)
        ]
        return jnp.stack(jnp.meshgrid(*axes, indexing="ij"), axis=-1)

    def integer_frequencies(self) -> list[np.ndarray]:
        """Integer frequencies ``m_a`` per axis, shaped to broadcast over the spectrum."""
        out = []
        for a, n in enumerate(self.shape):
            m = np.fft.rfftfreq(n, 1.0 / n) if a == self.rank - 1 else np.fft.fftfreq(n, 1.0 / n)
            shape = [1] * self.rank
            shape[a] = len(m)
            out.append(m.reshape(shape))
        return out

    def wavenumbers(self, dtype=jnp.float32) -> list[jax.Array]:
        """Angular wavenumbers ``k_a = 2 pi m_a / L_a``, broadcastable to the spectrum."""
        return [
            jnp.asarray(2.0 * math.pi * m / length, dtype)
            for m, length in zip(self.integer_frequencies(), self.lengths)
        ]

    def laplacian_symbol(self, dtype=jnp.float32) -> jax.Array:
        """``-|k|^2`` on the spectrum (the Fourier symbol of the Laplacian)."""
        return -sum(k**2 for k in self.wavenumbers(dtype))

    def dealias_mask(self) -> np.ndarray:
        """2/3 rule: True where ``|m_a| < N_a / 3`` on every axis."""
        keep = np.ones(self.spectrum_shape, bool)
        for m, n in zip(self.integer_frequencies(), self.shape):
            keep = keep & (np.abs(m) < n / 3.0)
        return keep

    def rfft(self, u: jax.Array) -> jax.Array:
        """Spectrum of ``u [..., *shape]`` (unnormalised forward transform)."""
        self._check(u)
        return jnp.fft.rfftn(u, axes=self._axes())

    def irfft(self, u_hat: jax.Array) -> jax.Array:
        """Inverse of :meth:`rfft`."""
        return jnp.fft.irfftn(u_hat, s=self.shape, axes=self._axes())

    def derivative(self, u: jax.Array, axis: int = 0, order: int = 1) -> jax.Array:
        """``d^order u / dx_axis^order`` by the FFT (spectrally exact for band-limited u)."""
        k = self.wavenumbers(u.dtype)[axis]
        symbol = (1j * k) ** order
        n = self.shape[axis]
        if order % 2 and n % 2 == 0:
            m = self.integer_frequencies()[axis]
            symbol = jnp.where(jnp.asarray(np.abs(m) == n // 2), 0.0, symbol)
        u_hat = self.rfft(u)
        return self.irfft(jnp.reshape(symbol, (1,) * (u.ndim - self.rank) + symbol.shape) * u_hat)

    def _axes(self) -> tuple[int, ...]:
        return tuple(range(-self.rank, 0))

    def _check(self, u: jax.Array) -> None:
        if u.shape[-self.rank :] != self.shape:
            raise ValueError(
                f"field of shape {u.shape} does not end in the grid shape {self.shape}"
            )
