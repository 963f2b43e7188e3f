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

Two exact implementations of the same map, in the space-major layout
``[*space, batch, channels]`` (a model that stacks Fourier layers, the FNO, keeps its
hidden field in that layout; a channels-last input is transposed in and out):

* ``"fft"``: ``rfftn``, gather the kept modes, mix channels, scatter, ``irfftn``;
* ``"dft"``: a truncated DFT written as real matrix products against precomputed cos/sin
  tables (:func:`opjax.models.layers.cpu_kernels.dft_spectral_conv`), which XLA runs far
  faster on CPU than its FFT when few modes are kept.

``"auto"`` chooses per backend, when the layer is traced
(:func:`~opjax.models.layers.cpu_kernels.traced_for_cpu`): the FFT on GPU and TPU (and any
backend but the CPU); on CPU the DFT when every axis keeps at most ``4 log2(N)``
frequencies (:func:`~opjax.models.layers.cpu_kernels.prefers_dft`), else the FFT. Both
implementations support every autodiff mode (``jvp``, ``jacfwd``, ``linearize``,
``grad``, ``hessian``).

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

from opjax.models.layers.cpu_kernels import dft_spectral_conv, prefers_dft, traced_for_cpu
from opjax.models.layers.factorized_weights import (
    canonical_factorization,
    factor_shapes,
    part_stddevs,
    reconstruct,
)
from opjax.models.layers.pointwise import broadcast_channels
from opjax.models.layers.spectral_modes import kept_frequencies, mix_modes, representable

SPECTRAL_METHODS = ("auto", "dft", "fft")
FFT_NORMS = ("forward", "backward", "ortho")


class SpectralConv(nn.Module):
    """Fourier layer ``[batch, *space, in] -> [batch, *space, out_channels]`` (or
    ``[*space, batch, in] -> [*space, batch, out_channels]`` with ``space_major``).

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
        space_major: the field is laid out ``[*space, batch, channels]`` (the layout the
            transform works in) instead of ``[batch, *space, channels]``.
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
    space_major: bool = False

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
        layout = "[*space, batch, channels]" if self.space_major else "[batch, *space, channels]"
        if x.ndim != rank + 2:
            raise ValueError(
                f"SpectralConv with n_modes={tuple(self.n_modes)} expects {layout} with "
                f"{rank} spatial axes, got shape {x.shape}"
            )
        if self.method not in SPECTRAL_METHODS:
            raise ValueError(f"method={self.method!r}; expected one of {SPECTRAL_METHODS}")
        if self.fft_norm not in FFT_NORMS:
            raise ValueError(f"fft_norm={self.fft_norm!r}; expected one of {FFT_NORMS}")
        if not self.space_major:
            x = jnp.moveaxis(x, 0, rank)
        in_channels = x.shape[-1]
        grid = x.shape[:rank]
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

        w_re, w_im = w_re.astype(x.dtype), w_im.astype(x.dtype)

        def fft(x, w_re, w_im):
            return _fft_conv(x, w_re, w_im, kept, self.fft_norm)

        def dft(x, w_re, w_im):
            return dft_spectral_conv(x, w_re, w_im, kept, self.fft_norm)

        method = self.method
        if method == "auto":
            method = "dft" if traced_for_cpu() and prefers_dft(kept, grid) else "fft"
        y = (dft if method == "dft" else fft)(x, w_re, w_im)
        if self.use_bias:
            std = math.sqrt(2.0 / (in_channels + self.out_channels))
            b = self.param("bias", nn.initializers.normal(stddev=std), (self.out_channels,))
            y = y + broadcast_channels(b.astype(y.dtype), y.ndim)
        return y if self.space_major else jnp.moveaxis(y, rank, 0)


def _fft_conv(x, w_re, w_im, kept, fft_norm="forward"):
    """Spectral convolution of ``x [*space, b, i]`` through ``rfftn``/``irfftn``."""
    rank = len(kept)
    grid = x.shape[:rank]
    axes = tuple(range(rank))
    spec = jnp.fft.rfftn(x, axes=axes, norm=fft_norm)
    for a, (freqs, n) in enumerate(zip(kept, grid)):
        spec = jnp.take(spec, np.mod(freqs, n), axis=a)
    z = mix_modes(jnp.stack([spec.real, spec.imag]), w_re, w_im)
    out = jax.lax.complex(z[0], z[1])
    for a, (freqs, n) in enumerate(zip(kept, grid)):
        shape = list(out.shape)
        shape[a] = n // 2 + 1 if a == rank - 1 else n
        index = (slice(None),) * a + (np.mod(freqs, n),)
        out = jnp.zeros(shape, out.dtype).at[index].set(out)
    return jnp.fft.irfftn(out, s=grid, axes=axes, norm=fft_norm)
