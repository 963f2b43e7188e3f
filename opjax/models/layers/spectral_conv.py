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
  at most ``DENSE_DFT_LIMIT``, and in 1D always) the whole transform is one matrix
  ``[2 x modes, prod(N)]``, and the complex channel mixing one real matmul per mode.

Both work in the space-major layout ``[*space, batch, channels]``: there the transform
along the first spatial axis, which touches the full-size field, is a plain matrix product
``[R, N_1] x [N_1, everything else]`` with no transpose (measured on the 64x64, width-32
FNO of ``evaluation/speed/fno_vs_neuralop.py``, 5.6 ms per layer against 7.9 ms for the
same DFT along channels-last axes). In 2D and 3D the field is real, so the kept ``+-k``
of that axis share their cosine and sine rows: ``R`` is one row of each per distinct
``|k|`` (17 for 16 modes) instead of ``2k`` (32), and the second axis is transformed row
by row as one batched product, so no intermediate is transposed; one layer of that FNO
then took 2.9 ms instead of 6.4 ms forward, and 6.7 ms instead of 17.0 ms forward and
backward. A model that stacks Fourier layers (the FNO) keeps its hidden field in that
layout; a channels-last input is transposed in and out.

``"auto"`` picks ``"dft"`` when every axis keeps at most ``4 log2(N)`` frequencies.

The ``"dft"`` products against constant tables carry a custom VJP whose backward pass
uses the precomputed transposed tables (:func:`_table_matmul`), so that layer is
differentiable in reverse mode (``jax.grad``, ``jax.vjp``), not in forward mode.

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
from opjax.models.layers.pointwise import broadcast_channels

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

        method = self.method
        if method == "auto":
            small = all(len(f) <= 4 * math.log2(max(n, 2)) for f, n in zip(kept, grid))
            method = "dft" if small else "fft"
        transform = _dft_conv if method == "dft" else _fft_conv
        y = transform(x, w_re.astype(x.dtype), w_im.astype(x.dtype), kept, self.fft_norm)
        if self.use_bias:
            std = math.sqrt(2.0 / (in_channels + self.out_channels))
            b = self.param("bias", nn.initializers.normal(stddev=std), (self.out_channels,))
            y = y + broadcast_channels(b.astype(y.dtype), y.ndim)
        return y if self.space_major else jnp.moveaxis(y, rank, 0)


def _scales(grid, fft_norm: str) -> tuple[float, float]:
    """The factors of the forward and the inverse transform under ``fft_norm``."""
    points = math.prod(grid)
    return {
        "forward": (1.0 / points, 1.0),
        "backward": (1.0, 1.0 / points),
        "ortho": (1.0 / math.sqrt(points), 1.0 / math.sqrt(points)),
    }[fft_norm]


def _hermitian_weights(freqs: np.ndarray, n_points: int) -> np.ndarray:
    """Weight of each real-axis rfft coefficient in the inverse: it stands for itself and
    its conjugate (2), except DC and Nyquist (1)."""
    return np.where((freqs == 0) | (2 * freqs == n_points), 1.0, 2.0)


def _mix(z: jax.Array, w_re: jax.Array, w_im: jax.Array) -> jax.Array:
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


def _complex_matmul_along(z: jax.Array, axis: int, c: np.ndarray, d: np.ndarray) -> jax.Array:
    """Apply the complex matrix ``c + i d`` (``[n, k]``) along spatial ``axis`` of
    ``z = [2, *space, b, channels]`` (real and imaginary parts on axis 0); that spatial axis
    becomes size ``k``.

    With ``u_pq = z_p T_q`` for ``T_0 = c`` and ``T_1 = d`` (one contraction against the
    stacked table), ``re' = u_00 - u_11`` and ``im' = u_01 + u_10``.
    """
    table = jnp.asarray(np.stack([c, d], axis=1), z.dtype)  # [n, 2, k]
    u = jnp.tensordot(z, table, axes=((axis + 1,), (0,)))  # [2, ..., 2, k]
    u = jnp.moveaxis(u, (-2, -1), (1, axis + 2))  # [2 (p), 2 (q), ..., k, ...]
    return jnp.stack([u[0, 0] - u[1, 1], u[0, 1] + u[1, 0]])


def _folded_rows(freqs: np.ndarray, n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``|k|`` of the signed frequencies ``freqs`` along a real field's first
    axis: those with a cosine row, and those with a sine row too (not 0, not Nyquist)."""
    cos_rows = np.unique(np.abs(freqs))
    sin_rows = cos_rows[(cos_rows != 0) & (2 * cos_rows != n_points)]
    return cos_rows, sin_rows


def _row_of(cos_rows, sin_rows) -> tuple[dict, dict]:
    """The row of each ``p``'s cosine and sine in the folded transform (cosines first)."""
    n_cos = len(cos_rows)
    return (
        {int(p): r for r, p in enumerate(cos_rows)},
        {int(p): n_cos + r for r, p in enumerate(sin_rows)},
    )


def _unfold_matrix(freqs, cos_rows, sin_rows) -> np.ndarray:
    """``E [2, K, 2, R]``: the coefficients of the kept frequencies ``k`` (real and imaginary
    parts) in the folded transform ``u [2 (table), R (row), ...]``.

    Row ``c(p)`` of the first-axis transform of a real field is ``A_p``'s input ``Z_c``, row
    ``s(p)`` is ``Z_s`` with ``Z(p) = Z_c + i Z_s``, and ``Z(-p) = Z_c - i Z_s``. After the
    second axis (table 0: cos, table 1: -sin), ``A = F(Z_c)``, ``B = F(Z_s)`` and
    ``X(+-p) = A +- i B``: ``Re = A_re -+ B_im``, ``Im = A_im +- B_re``.
    """
    row_of_cos, row_of_sin = _row_of(cos_rows, sin_rows)
    e = np.zeros((2, len(freqs), 2, len(cos_rows) + len(sin_rows)))
    for i, k in enumerate(freqs):
        p, sign = abs(int(k)), (1.0 if k > 0 else -1.0)
        e[0, i, 0, row_of_cos[p]] = 1.0
        e[1, i, 1, row_of_cos[p]] = 1.0
        if p in row_of_sin:
            e[0, i, 1, row_of_sin[p]] = -sign
            e[1, i, 0, row_of_sin[p]] = sign
    return e


def _fold_matrix(freqs, cos_rows, sin_rows) -> np.ndarray:
    """``F [R, 2, 2, K]``: the inputs ``W`` of the folded inverse from the spectrum ``V
    [2 (re, im), K, ...]`` (already inverted along every axis but the first two).

    ``U(p) = G(V(p)) + conj(G(V(-p)))`` (absent frequencies count as zero; ``p = 0`` once)
    for ``G`` the inverse along the second axis, table ``[c; d]`` (``e^{+ik x} = c + i d``).
    With ``S = V(p) + V(-p)`` and ``D = V(p) - V(-p)``, ``Re U = S_re c - S_im d`` and
    ``Im U = D_im c + D_re d``, so a cosine row takes ``W = [S_re, -S_im]``, a sine row
    ``W = [D_im, D_re]``, and both are ``U = W_0 c + W_1 d``.
    """
    row_of_cos, row_of_sin = _row_of(cos_rows, sin_rows)
    f = np.zeros((len(cos_rows) + len(sin_rows), 2, 2, len(freqs)))
    for i, k in enumerate(freqs):
        p, sign = abs(int(k)), (1.0 if k >= 0 else -1.0)
        f[row_of_cos[p], 0, 0, i] = 1.0  # S_re
        f[row_of_cos[p], 1, 1, i] = -1.0  # -S_im
        if p in row_of_sin:
            f[row_of_sin[p], 0, 1, i] = sign  # D_im
            f[row_of_sin[p], 1, 0, i] = sign  # D_re
    return f


def _dft_conv(x, w_re, w_im, kept, fft_norm="forward"):
    """Spectral convolution of ``x [*space, b, i]`` as truncated DFTs (cos/sin matmuls).

    The transform is separable, so the axes may be taken in any order. The first spatial
    axis, which is the slowest-varying one, goes first in the forward transform and last in
    the inverse: there the contraction is a plain ``[R, n] x [n, everything else]`` matrix
    product on the full-size field, with no transpose; the other axes act on the small
    tensors of kept modes. Along the last axis only the non-negative rfft frequencies are
    kept, and the inverse counts each for itself and its conjugate (Hermitian weights); the
    inverse ends in the real part, which is what ``irfftn`` computes.

    In 2D and 3D the first axis's kept frequencies come in pairs ``+-p`` and the field is
    real, so those full-size products need one cosine and one sine row per distinct ``|k|``
    (``R`` about ``k``, not ``2k``): forward, ``Z(-p) = conj Z(p)``, and the second axis
    separates the pair (:func:`_unfold_matrix`); inverse, the pair is summed before the
    second axis, ``Re[V(p) e^{ipx} + V(-p) e^{-ipx}] = Re[(V(p) + conj V(-p)) e^{ipx}]``
    (:func:`_fold_matrix`).
    """
    rank = len(kept)
    grid = x.shape[:rank]
    # In 1D the one-axis transform is the whole transform, a dense matrix either way.
    if rank == 1 or math.prod(grid) * math.prod(len(f) for f in kept) <= DENSE_DFT_LIMIT:
        return _dense_dft_conv(x, w_re, w_im, kept, fft_norm)
    scale, inverse_scale = _scales(grid, fft_norm)
    # Axes 1 .. rank-1 by index (axis 0 has its own folded rows below): the angles k x, and
    # the inverse's weights, Hermitian on the last axis.
    angles = {
        a: 2.0 * np.pi * np.outer(np.arange(grid[a]), kept[a]) / grid[a] for a in range(1, rank)
    }
    inverse_weights = {a: np.ones(len(kept[a])) for a in range(1, rank - 1)}
    inverse_weights[rank - 1] = _hermitian_weights(kept[-1], grid[-1])

    # Forward along axis 0, real field: rows cos(p x) for each distinct |k| = p, then
    # -sin(p x) where that is not zero, so that Z(p) = Z_cos + i Z_sin.
    n0, n1 = grid[0], grid[1]
    cos_rows, sin_rows = _folded_rows(kept[0], n0)
    rows = len(cos_rows) + len(sin_rows)
    theta_cos = 2.0 * np.pi * np.outer(cos_rows, np.arange(n0)) / n0
    theta_sin = 2.0 * np.pi * np.outer(sin_rows, np.arange(n0)) / n0
    forward0 = np.concatenate([np.cos(theta_cos), -np.sin(theta_sin)]) * scale  # [R, n0]
    z = _table_matmul(forward0, x.reshape(n0, -1))  # [R, n1 x rest]
    # Axis 1 against the table [cos; -sin] (each row r its own [2 k1, n1] x [n1, rest]
    # product, so that no operand is transposed), then the kept signed frequencies of
    # axis 0: one [2 k0, 2 R] x [2 R, k1 x rest] product with the unfolding coefficients.
    k0, k1 = len(kept[0]), len(kept[1])
    table1 = np.concatenate([np.cos(angles[1]).T, -np.sin(angles[1]).T])  # [2 k1, n1]
    u = _per_row_matmul(table1, z.reshape(rows, n1, -1))  # [R, 2 (t), k1, rest]
    unfold = _unfold_matrix(kept[0], cos_rows, sin_rows).transpose(0, 1, 3, 2)  # [2, k0, R, 2]
    z = _table_matmul(unfold.reshape(2 * k0, 2 * rows), u.reshape(2 * rows, -1))
    z = z.reshape(2, k0, k1, *x.shape[2:])
    for a in range(2, rank):
        z = _complex_matmul_along(z, a, np.cos(angles[a]), -np.sin(angles[a]))

    z = _mix(z, w_re, w_im)

    # Inverse along axes rank-1 .. 2, complex to complex: e^{+i k x}, weighted.
    for a in range(rank - 1, 1, -1):
        weights = inverse_weights[a]
        z = _complex_matmul_along(
            z, a, np.cos(angles[a].T) * weights[:, None], np.sin(angles[a].T) * weights[:, None]
        )
    # Fold the +-p pairs of axis 0 (one [2 R, 2 k0] x [2 k0, k1 x rest] product), then
    # axis 1 against the table [cos, sin] (weighted), row by row.
    fold = _fold_matrix(kept[0], cos_rows, sin_rows)  # [R, 2, 2, k0]
    w = _table_matmul(fold.reshape(2 * rows, 2 * k0), z.reshape(2 * k0, -1))
    weights = inverse_weights[1]
    table1 = np.concatenate([np.cos(angles[1]) * weights, np.sin(angles[1]) * weights], 1)
    v = _per_row_matmul(table1, w.reshape(rows, 2 * k1, -1))  # [R, n1, rest]
    # Inverse along axis 0, keeping the real part: Re U cos(p x) - Im U sin(p x).
    inverse0 = np.concatenate([np.cos(theta_cos).T, -np.sin(theta_sin).T], 1) * inverse_scale
    y = _table_matmul(inverse0, v.reshape(rows, -1))  # [n0, rest]
    return y.reshape(*grid, *x.shape[rank:-1], w_re.shape[-1])


def _per_row_matmul(table: np.ndarray, z: jax.Array) -> jax.Array:
    """``[m, n] x z[r]`` for every row ``r`` of ``z [R, n, rest]``: ``[R, m, rest]``.

    Written as a batched product with the table repeated per row, which XLA runs without
    transposing ``z`` (a contraction over ``z``'s middle axis would)."""
    return _table_matmul(np.broadcast_to(table, (z.shape[0], *table.shape)), z)


def _table_matmul(table: np.ndarray, x: jax.Array) -> jax.Array:
    """``table @ x`` for a constant ``table [..., m, n]`` and ``x [..., n, rest]``.

    Differentiated, the backward pass multiplies by the transposed table, precomputed
    here, rather than by ``table`` with transposed dimension numbers: XLA's CPU backend
    hands a product whose constant operand is transposed to Eigen, and a plain one to
    YNNPACK (measured on the train step of ``evaluation/speed/fno_vs_neuralop.py``, 24
    of its 45 Eigen products go, and the step takes 3-4% less time).
    """
    transposed = np.ascontiguousarray(np.swapaxes(table, -1, -2))

    @jax.custom_vjp
    def product(v):
        return jnp.matmul(jnp.asarray(table, v.dtype), v)

    def product_forward(v):
        return product(v), None

    def product_backward(_, cotangent):
        return (jnp.matmul(jnp.asarray(transposed, cotangent.dtype), cotangent),)

    product.defvjp(product_forward, product_backward)
    return product(x)


def _dense_dft_conv(x, w_re, w_im, kept, fft_norm="forward"):
    """Spectral convolution with the whole truncated DFT as one matrix over all grid points.

    With ``theta[p, m] = 2 pi sum_d k_d(m) x_d(p) / N_d`` for grid point ``p`` and kept mode
    ``m``, the forward transform is ``[cos; -sin] / prod(N)`` (``[2M, P]``) and the inverse
    ``c_m [cos, -sin]`` (``[P, 2M]``) with ``c_m`` the Hermitian weight of the last-axis
    frequency; each is one matrix product against the flattened ``[P, b x channels]`` field.
    """
    rank = len(kept)
    grid = x.shape[:rank]
    points = math.prod(grid)
    coords = np.stack(np.meshgrid(*(np.arange(n) / n for n in grid), indexing="ij"), -1)
    modes = np.stack(np.meshgrid(*kept, indexing="ij"), -1).reshape(-1, rank)
    theta = 2.0 * np.pi * coords.reshape(points, -1) @ modes.T  # [P, M]
    scale, inverse_scale = _scales(grid, fft_norm)
    weights = _hermitian_weights(modes[:, -1], grid[-1]) * inverse_scale
    forward = np.concatenate([np.cos(theta).T, -np.sin(theta).T]) * scale  # [2M, P]
    inverse = np.concatenate([np.cos(theta) * weights, -np.sin(theta) * weights], 1)  # [P, 2M]

    n_modes = modes.shape[0]
    z = _table_matmul(forward, x.reshape(points, -1))
    z = z.reshape(2, n_modes, *x.shape[rank:])
    z = _mix(
        z, w_re.reshape(n_modes, *w_re.shape[rank:]), w_im.reshape(n_modes, *w_im.shape[rank:])
    )
    y = _table_matmul(inverse, z.reshape(2 * n_modes, -1))
    return y.reshape(*grid, *z.shape[2:])


def _fft_conv(x, w_re, w_im, kept, fft_norm="forward"):
    """Spectral convolution of ``x [*space, b, i]`` through ``rfftn``/``irfftn``."""
    rank = len(kept)
    grid = x.shape[:rank]
    axes = tuple(range(rank))
    spec = jnp.fft.rfftn(x, axes=axes, norm=fft_norm)
    for a, (freqs, n) in enumerate(zip(kept, grid)):
        spec = jnp.take(spec, np.mod(freqs, n), axis=a)
    z = _mix(jnp.stack([spec.real, spec.imag]), w_re, w_im)
    out = jax.lax.complex(z[0], z[1])
    for a, (freqs, n) in enumerate(zip(kept, grid)):
        shape = list(out.shape)
        shape[a] = n // 2 + 1 if a == rank - 1 else n
        index = (slice(None),) * a + (np.mod(freqs, n),)
        out = jnp.zeros(shape, out.dtype).at[index].set(out)
    return jnp.fft.irfftn(out, s=grid, axes=axes, norm=fft_norm)
