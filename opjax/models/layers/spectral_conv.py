"""Spectral convolution: the Fourier layer of a neural operator.

For a field ``v`` of shape ``[batch, *space, in_channels]`` sampled on a uniform periodic
grid with ``N_1 x ... x N_d`` points, the layer computes

    (K v)(x) = F^{-1}[ W(k) F[v](k) ](x) + b,

where ``F`` is the discrete Fourier transform normalised "forward" (the forward transform
divides by ``N_1 ... N_d``, the inverse does not, so Fourier coefficients do not depend on
the resolution), ``W(k)`` is a learned complex ``in_channels x out_channels`` matrix for
every kept wavenumber ``k``, every other wavenumber is set to zero, and ``b`` is a learned
bias per output channel.

Kept wavenumbers (``m = n_modes[d]``):

* every axis but the last keeps the ``m`` lowest frequencies of both signs,
  ``k in {-(m // 2), ..., m - m // 2 - 1}``; weight index ``i`` holds frequency ``i - m // 2``;
* the last axis is transformed with a real FFT and keeps ``k in {0, ..., m // 2}``.

This is neuraloperator's convention, so its checkpoints map onto these weights by a
transpose. Frequencies a grid cannot represent (``|k| > N / 2``) are dropped, which makes
the layer resolution-invariant: the same weights act on any grid.

Two exact implementations of the same map:

* ``"fft"``: ``rfftn``, gather the kept modes, mix channels, scatter, ``irfftn``;
* ``"dft"``: a truncated DFT written as real matrix products against precomputed cos/sin
  tables (forward along each axis, per-mode channel mixing, inverse with the Hermitian
  weights of the real axis). When few modes are kept this is a handful of dense matmuls,
  which XLA runs far faster on CPU than its FFT. On small grids (``prod(N) x`` kept modes
  at most ``DENSE_DFT_LIMIT``) the whole multi-dimensional transform is one matrix
  ``[prod(N), 2 x modes]``, and the complex channel mixing one real matmul per mode.

``"auto"`` picks ``"dft"`` when every axis keeps at most ``4 log2(N)`` frequencies.

Options of neuraloperator's ``SpectralConv``:

* ``fft_norm`` (``"forward"``, ``"backward"`` or ``"ortho"``) says where the ``1 / prod(N)``
  goes: on the forward transform, on the inverse, or ``1 / sqrt(prod(N))`` on each. The
  layer is linear, so the three give the same map; only the rounding differs.
* ``factorization`` (``"tucker"``, ``"cp"``, ``"tt"``) stores the complex weight
  ``[in, out, *modes]`` (neuraloperator's order) in low-rank form with ``rank`` (see
  :mod:`opjax.models.layers.factorized_weights`); the full weight is reconstructed on
  every call (neuraloperator's ``implementation="reconstructed"``; its ``"factorized"``
  contraction computes the same numbers).
* ``separable=True`` (``in == out``) keeps one complex weight per channel and mode,
  ``y_c(k) = w_c(k) x_c(k)``, instead of a full channel-mixing matrix.

Parameters are real and imaginary parts: dense ``weight_re``/``weight_im`` of shape
``[*modes, in, out]`` (``[*modes, channels]`` when separable); factorized
``{part}_re``/``{part}_im`` with the parts and shapes of tensorly-torch's factorization.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from opjax.models.layers.factorized_weights import (
    canonical_factorization,
    factor_shapes,
    part_stddevs,
    reconstruct,
)

SPECTRAL_METHODS = ("auto", "dft", "fft")
FFT_NORMS = ("forward", "backward", "ortho")
DENSE_DFT_LIMIT = 1 << 16


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


def _contract(u: jax.Array, axis: int, matrix: jax.Array) -> jax.Array:
    """Apply ``matrix [n, k]`` along ``axis`` (size n) of ``u``; that axis becomes size k."""
    return jnp.moveaxis(jnp.tensordot(u, matrix, axes=((axis,), (0,))), -1, axis)


def _mix(re: jax.Array, im: jax.Array, w_re: jax.Array, w_im: jax.Array, rank: int):
    """Per-mode complex channel mixing ``[b, *k, i] x [*k, i, o] -> [b, *k, o]``."""
    k = "xyzuvw"[:rank]
    spec = f"b{k}i,{k}io->b{k}o"
    out_re = jnp.einsum(spec, re, w_re) - jnp.einsum(spec, im, w_im)
    out_im = jnp.einsum(spec, re, w_im) + jnp.einsum(spec, im, w_re)
    return out_re, out_im


class SpectralConv(nn.Module):
    """Fourier layer ``[batch, *space, in] -> [batch, *space, out_channels]``.

    Attributes:
        out_channels: output channels.
        n_modes: kept frequencies per spatial axis (see the module docstring); its length
            is the spatial rank.
        method: ``"auto"``, ``"dft"`` or ``"fft"`` (identical results).
        use_bias: add a learned bias per output channel.
        fft_norm: ``"forward"`` (neuraloperator's), ``"backward"`` or ``"ortho"``.
        factorization: ``None`` (dense), ``"tucker"``, ``"cp"`` or ``"tt"``.
        rank: float: fraction of the dense parameter count; int or ints: the ranks.
        fixed_rank_modes: keep the input-channel mode unfactorized (Tucker).
        separable: one weight per channel and mode (requires ``in == out_channels``).
    """

    out_channels: int
    n_modes: Sequence[int]
    method: str = "auto"
    use_bias: bool = True
    fft_norm: str = "forward"
    factorization: str | None = None
    rank: float | int | Sequence[int] = 1.0
    fixed_rank_modes: bool = False
    separable: bool = False

    def _weight(self, in_channels: int, n_freqs: Sequence[int], dtype):
        """Real and imaginary parts of the weight at each kept mode, ``[*modes, in, out]``."""
        rank = len(n_freqs)
        factorization = canonical_factorization(self.factorization)
        if self.separable and in_channels != self.out_channels:
            raise ValueError(
                f"a separable SpectralConv needs in == out channels; got in={in_channels}, "
                f"out={self.out_channels}"
            )
        # neuraloperator's init: the complex weight is normal with std sqrt(2 / (in + out))
        # (std / sqrt(2) for each of its real and imaginary parts).
        std = math.sqrt(2.0 / (in_channels + self.out_channels))
        channels = (in_channels,) if self.separable else (in_channels, self.out_channels)
        if factorization == "dense":
            # Stored channels-last: [*modes, in, out] ([*modes, channels] when separable).
            shape = (*n_freqs, *channels)
            init = nn.initializers.normal(stddev=std / math.sqrt(2.0))
            w_re = self.param("weight_re", init, shape)
            w_im = self.param("weight_im", init, shape)
        else:
            # neuraloperator's order, [in, out, *modes] ([channels, *modes] when separable).
            shape = (*channels, *n_freqs)
            parts = factor_shapes(factorization, shape, self.rank, self.fixed_rank_modes)
            stds = part_stddevs(factorization, parts, std)
            values = {}
            for name, part_shape in parts.items():
                s = stds[name]
                if s is None:  # CP weights start at one
                    init_re, init_im = nn.initializers.ones, nn.initializers.zeros
                else:
                    init_re = init_im = nn.initializers.normal(stddev=s / math.sqrt(2.0))
                values[name] = jax.lax.complex(
                    self.param(f"{name}_re", init_re, part_shape).astype(dtype),
                    self.param(f"{name}_im", init_im, part_shape).astype(dtype),
                )
            w = reconstruct(factorization, values)
            w = jnp.moveaxis(w, tuple(range(len(channels))), tuple(range(rank, w.ndim)))
            w_re, w_im = w.real, w.imag
        if self.separable:
            eye = jnp.eye(in_channels, dtype=w_re.dtype).reshape((1,) * rank + (in_channels,) * 2)
            w_re, w_im = w_re[..., :, None] * eye, w_im[..., :, None] * eye
        return w_re, w_im

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        rank = len(self.n_modes)
        if x.ndim != rank + 2:
            raise ValueError(
                f"SpectralConv with n_modes={tuple(self.n_modes)} expects "
                f"[batch, {rank} spatial axes, channels], got shape {x.shape}"
            )
        if self.method not in SPECTRAL_METHODS:
            raise ValueError(f"method={self.method!r}; expected one of {SPECTRAL_METHODS}")
        if self.fft_norm not in FFT_NORMS:
            raise ValueError(f"fft_norm={self.fft_norm!r}; expected one of {FFT_NORMS}")
        in_channels = x.shape[-1]
        grid = x.shape[1:-1]
        weight_freqs = [
            kept_frequencies(m, real_axis=(a == rank - 1)) for a, m in enumerate(self.n_modes)
        ]
        dtype = jnp.promote_types(x.dtype, jnp.float32)
        w_re, w_im = self._weight(in_channels, [len(f) for f in weight_freqs], dtype)

        # Restrict the weights to the frequencies this grid represents.
        kept = []
        for a, (freqs, n) in enumerate(zip(weight_freqs, grid)):
            index = np.nonzero(representable(freqs, n, real_axis=(a == rank - 1)))[0]
            if len(index) < len(freqs):
                w_re = jnp.take(w_re, index, axis=a)
                w_im = jnp.take(w_im, index, axis=a)
            kept.append(freqs[index])

        method = self.method
        if method == "auto":
            small = all(len(f) <= 4 * math.log2(max(n, 2)) for f, n in zip(kept, grid))
            method = "dft" if small else "fft"
        transform = _dft_conv if method == "dft" else _fft_conv
        y = transform(x, w_re.astype(x.dtype), w_im.astype(x.dtype), kept, grid, self.fft_norm)
        if self.use_bias:
            std = math.sqrt(2.0 / (in_channels + self.out_channels))
            b = self.param("bias", nn.initializers.normal(stddev=std), (self.out_channels,))
            y = y + b.astype(y.dtype).reshape((1,) * (y.ndim - 1) + (-1,))
        return y


def _scales(grid, fft_norm: str) -> tuple[float, float]:
    """The factors of the forward and the inverse transform under ``fft_norm``."""
    points = math.prod(grid)
    return {
        "forward": (1.0 / points, 1.0),
        "backward": (1.0, 1.0 / points),
        "ortho": (1.0 / math.sqrt(points), 1.0 / math.sqrt(points)),
    }[fft_norm]


def _dft_conv(x, w_re, w_im, kept, grid, fft_norm="forward"):
    """Spectral convolution as truncated real DFTs (cos/sin matrix products)."""
    rank = len(grid)
    if rank > 1 and math.prod(grid) * math.prod(len(f) for f in kept) <= DENSE_DFT_LIMIT:
        return _dense_dft_conv(x, w_re, w_im, kept, grid, fft_norm)
    dtype = x.dtype
    tables = []
    for freqs, n in zip(kept, grid):
        theta = 2.0 * np.pi * np.outer(np.arange(n), freqs) / n
        tables.append((np.cos(theta), np.sin(theta)))

    # Forward: real DFT along the last spatial axis, complex DFT along the others.
    last = rank
    cos, sin = tables[-1]
    scale, inverse_scale = _scales(grid, fft_norm)
    re = _contract(x, last, jnp.asarray(cos * scale, dtype))
    im = _contract(x, last, jnp.asarray(-sin * scale, dtype))
    for a in range(rank - 1):
        cos, sin = (jnp.asarray(t, dtype) for t in tables[a])
        re, im = (
            _contract(re, a + 1, cos) + _contract(im, a + 1, sin),
            _contract(im, a + 1, cos) - _contract(re, a + 1, sin),
        )

    re, im = _mix(re, im, w_re, w_im, rank)

    # Inverse: complex along the other axes, Hermitian real inverse along the last.
    for a in range(rank - 1):
        cos, sin = (jnp.asarray(t.T, dtype) for t in tables[a])
        re, im = (
            _contract(re, a + 1, cos) - _contract(im, a + 1, sin),
            _contract(im, a + 1, cos) + _contract(re, a + 1, sin),
        )
    cos, sin = tables[-1]
    n_last = grid[-1]
    freqs = kept[-1]
    # Each rfft coefficient stands for itself and its conjugate, except DC and Nyquist.
    hermitian = np.where((freqs == 0) | (2 * freqs == n_last), 1.0, 2.0) * inverse_scale
    y = _contract(re, last, jnp.asarray((cos * hermitian).T, dtype))
    y = y - _contract(im, last, jnp.asarray((sin * hermitian).T, dtype))
    return y


def _fft_conv(x, w_re, w_im, kept, grid, fft_norm="forward"):
    """Spectral convolution through ``rfftn``/``irfftn``."""
    rank = len(grid)
    axes = tuple(range(1, rank + 1))
    spec = jnp.fft.rfftn(x, axes=axes, norm=fft_norm)
    for a, (freqs, n) in enumerate(zip(kept, grid)):
        spec = jnp.take(spec, np.mod(freqs, n), axis=a + 1)
    re, im = _mix(spec.real, spec.imag, w_re, w_im, rank)
    out = jax.lax.complex(re, im)
    for a, (freqs, n) in enumerate(zip(kept, grid)):
        size = n // 2 + 1 if a == rank - 1 else n
        shape = list(out.shape)
        shape[a + 1] = size
        index = (slice(None),) * (a + 1) + (np.mod(freqs, n),)
        out = jnp.zeros(shape, out.dtype).at[index].set(out)
    return jnp.fft.irfftn(out, s=grid, axes=axes, norm=fft_norm)


def _dense_dft_conv(x, w_re, w_im, kept, grid, fft_norm="forward"):
    """Spectral convolution with the whole truncated DFT as one matrix over all grid points.

    With ``theta[p, m] = 2 pi sum_d k_d(m) x_d(p) / N_d`` for grid point ``p`` and kept mode
    ``m``, the forward transform is ``[cos, -sin] / prod(N)`` and the inverse
    ``c_m [cos, -sin]^T`` with ``c_m`` the Hermitian weight of the last-axis frequency.
    """
    dtype = x.dtype
    batch, channels = x.shape[0], x.shape[-1]
    points = math.prod(grid)
    coords = np.stack(np.meshgrid(*(np.arange(n) / n for n in grid), indexing="ij"), -1)
    modes = np.stack(np.meshgrid(*kept, indexing="ij"), -1).reshape(-1, len(grid))
    theta = 2.0 * np.pi * coords.reshape(points, -1) @ modes.T  # [P, M]
    n_last = grid[-1]
    last = modes[:, -1]
    scale, inverse_scale = _scales(grid, fft_norm)
    hermitian = np.where((last == 0) | (2 * last == n_last), 1.0, 2.0) * inverse_scale
    forward = np.concatenate([np.cos(theta), -np.sin(theta)], axis=1) * scale  # [P, 2M]
    inverse = np.concatenate([np.cos(theta) * hermitian, -np.sin(theta) * hermitian], axis=1)

    n_modes = modes.shape[0]
    z = jnp.einsum("bpc,pm->bmc", x.reshape(batch, points, channels), jnp.asarray(forward, dtype))
    z = jnp.concatenate([z[:, :n_modes], z[:, n_modes:]], axis=-1)  # [B, M, 2C]: re | im
    w_re = w_re.reshape(n_modes, channels, -1)
    w_im = w_im.reshape(n_modes, channels, -1)
    # [re, im] [[W_re, W_im], [-W_im, W_re]] = [re W_re - im W_im, re W_im + im W_re]
    block = jnp.concatenate(
        [jnp.concatenate([w_re, w_im], axis=-1), jnp.concatenate([-w_im, w_re], axis=-1)], axis=1
    )  # [M, 2C, 2O]
    y = jnp.einsum("bmc,mco->bmo", z, block)  # [B, M, 2O]
    out_channels = w_re.shape[-1]
    y = jnp.concatenate([y[..., :out_channels], y[..., out_channels:]], axis=1)  # [B, 2M, O]
    out = jnp.einsum("bmo,pm->bpo", y, jnp.asarray(inverse, dtype))
    return out.reshape(batch, *grid, out_channels)
