"""Energy spectra of fields on periodic (or treated-as-periodic) grids.

For ``u [b, *space, c]`` on ``N_1 x ... x N_d`` points, with ``u_hat = fftn(u) / prod(N)``
over the spatial axes and integer frequencies ``m``, the shell spectrum is

    E(k) = sum_{ m : round(|m|) = k } |u_hat(m)|^2,   k = 0, 1, ..., floor(min(N) / 2),

so that ``sum_k E(k)`` is the mean of ``u^2`` over the grid (Parseval) when every mode lies
in a shell (1D always; in higher dimensions the corner modes beyond ``min(N) / 2`` are
left out, as is usual for isotropic spectra).
"""

from __future__ import annotations

import numpy as np


def energy_spectrum(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(k [K], E [b, K, c])`` for ``u [b, *space, c]`` (see the module docstring)."""
    u = np.asarray(u, np.float64)
    if u.ndim < 3:
        raise ValueError(f"energy_spectrum expects [batch, *space, channels]; got {u.shape}")
    space = u.shape[1:-1]
    axes = tuple(range(1, u.ndim - 1))
    power = np.abs(np.fft.fftn(u, axes=axes) / np.prod(space)) ** 2
    freqs = np.meshgrid(*[np.fft.fftfreq(n, 1.0 / n) for n in space], indexing="ij")
    shell = np.rint(np.sqrt(sum(f**2 for f in freqs))).astype(int)
    k_max = min(space) // 2
    k = np.arange(k_max + 1)
    flat = power.reshape(u.shape[0], -1, u.shape[-1])
    spectrum = np.stack(
        [flat[:, (shell == kk).ravel()].sum(axis=1) for kk in k], axis=1
    )  # [b, K, c]
    return k, spectrum
