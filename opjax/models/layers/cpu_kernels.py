"""CPU kernels: the truncated-DFT spectral convolution, the float32 GELU and the float32
sine and cosine written for XLA's CPU compiler.

These are the backend-specific forms behind the seam of
:class:`opjax.models.layers.SpectralConv` (``method="auto"``) and
:func:`opjax.models.layers.gelu`, which choose them when :func:`traced_for_cpu`: when a
function is traced while JAX's default backend is the CPU. On GPU and TPU the FFT and
XLA's own ``erf`` are the fast path. Each computes the same map as the portable form, to
float32 rounding, so a program traced for one backend and run on another is correct, only
slower. (``jax.lax.platform_dependent`` would defer the choice to compilation, but it
traces and lowers both forms of every layer: it made tracing the FNO's gradient about
three times slower, for the same compiled program.) Each carries a ``custom_jvp`` rule, so
every autodiff mode works: ``jvp``, ``jacfwd``, ``linearize``, ``grad`` and ``hessian``
(JAX transposes a ``custom_jvp`` rule for reverse mode).

**Truncated DFT** (:func:`dft_spectral_conv`). The kept modes of a spectral convolution
are few, so the transform is a handful of dense matrix products against precomputed
cos/sin tables (forward along each axis, per-mode channel mixing, inverse with the
Hermitian weights of the real axis), which XLA runs far faster on CPU than its FFT. On
small grids (``prod(N) x`` kept modes at most ``DENSE_DFT_LIMIT``, and in 1D always) the
whole transform is one matrix ``[2 x modes, prod(N)]``. The field is in the space-major
layout ``[*space, batch, channels]``: there the transform along the first spatial axis,
which touches the full-size field, is a plain ``[R, N_1] x [N_1, everything else]`` matrix
product with no transpose. In 2D and 3D the field is real, so the kept ``+-k`` of that
axis share their cosine and sine rows (``R`` is one row of each per distinct ``|k|``), and
the second axis is transformed row by row as one batched product, so that no intermediate
is transposed. :func:`prefers_dft` says when the DFT beats the FFT.

**GELU** (:func:`gelu_float32`). ``Phi(x) = N(x) / D(x)`` from the rational approximation
of Eigen's float32 ``erf``, evaluated as ``(x N) / D``, so that the last operation is a
division: XLA's CPU compiler copies a cheap elementwise producer into each consumer that
reads it, but not a division, so a GELU'd field is computed once and read from memory by
all its consumers.

**Sine and cosine** (:func:`sine_float32`, :func:`cosine_float32`). XLA's CPU ``sin`` is
not vectorised; a coordinate network's sine activations made most of a Phi-ROM step.
These reduce the argument to ``r`` in ``[-pi/2, pi/2]`` (``x - 2 pi k`` with a three-part
Cody-Waite ``2 pi``, then ``pi - r`` or ``-pi - r`` outside) and evaluate the odd Taylor
polynomial of degree 11, all elementwise operations that XLA fuses and vectorises: about
2e-7 absolute error for ``|x| <= 200`` (XLA's own: 3e-8).

Their effect on speed is measured in ``evaluation/speed/fno_vs_neuralop.md`` and
``evaluation/speed/phirom_vs_reference.md``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from opjax.models.layers.spectral_modes import hermitian_weights, mix_modes, transform_scales

DENSE_DFT_LIMIT = 1 << 16


def traced_for_cpu() -> bool:
    """Whether the function being traced takes the CPU kernels: JAX's default backend
    (``jax.default_backend()``, e.g. set by ``JAX_PLATFORMS``) is the CPU."""
    return jax.default_backend() == "cpu"


def prefers_dft(kept, grid) -> bool:
    """Whether the truncated DFT is the faster CPU path: every axis keeps at most
    ``4 log2(N)`` of its ``N`` points' frequencies."""
    return all(len(f) <= 4 * math.log2(max(n, 2)) for f, n in zip(kept, grid))


def dft_spectral_conv(x, w_re, w_im, kept, fft_norm="forward"):
    """Spectral convolution of ``x [*space, b, i]`` as truncated DFTs (cos/sin matmuls),
    ``-> [*space, b, o]``; ``w_re, w_im [*kept, i, o]`` are the weights at the kept
    frequencies ``kept`` (one array per axis, already restricted to the grid).

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
    scale, inverse_scale = transform_scales(grid, fft_norm)
    # Axes 1 .. rank-1 by index (axis 0 has its own folded rows below): the angles k x, and
    # the inverse's weights, Hermitian on the last axis.
    angles = {
        a: 2.0 * np.pi * np.outer(np.arange(grid[a]), kept[a]) / grid[a] for a in range(1, rank)
    }
    inverse_weights = {a: np.ones(len(kept[a])) for a in range(1, rank - 1)}
    inverse_weights[rank - 1] = hermitian_weights(kept[-1], grid[-1])

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

    z = mix_modes(z, w_re, w_im)

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

    A ``custom_jvp`` rule whose tangent multiplies by the transposed table, precomputed
    here, and contracts its first axis: ``d(table @ x) = transposed^T @ dx``. JAX
    transposes that linear map for reverse mode into ``transposed @ cotangent``, a plain
    product against a constant, rather than a product against ``table`` with transposed
    dimension numbers: XLA's CPU backend hands the latter to Eigen and the former to its
    faster YNNPACK path (measured in ``evaluation/speed/fno_vs_neuralop.md``). Forward mode
    (``jvp``, ``jacfwd``) takes the transposed contraction instead.
    """
    transposed = np.ascontiguousarray(np.swapaxes(table, -1, -2))

    @jax.custom_jvp
    def product(v):
        return jnp.matmul(jnp.asarray(table, v.dtype), v)

    @product.defjvp
    def product_jvp(primals, tangents):
        (v,), (dv,) = primals, tangents
        tangent = jnp.einsum("...nm,...nr->...mr", jnp.asarray(transposed, dv.dtype), dv)
        return product(v), tangent

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
    scale, inverse_scale = transform_scales(grid, fft_norm)
    weights = hermitian_weights(modes[:, -1], grid[-1]) * inverse_scale
    forward = np.concatenate([np.cos(theta).T, -np.sin(theta).T]) * scale  # [2M, P]
    inverse = np.concatenate([np.cos(theta) * weights, -np.sin(theta) * weights], 1)  # [P, 2M]

    n_modes = modes.shape[0]
    z = _table_matmul(forward, x.reshape(points, -1))
    z = z.reshape(2, n_modes, *x.shape[rank:])
    z = mix_modes(
        z, w_re.reshape(n_modes, *w_re.shape[rank:]), w_im.reshape(n_modes, *w_im.shape[rank:])
    )
    y = _table_matmul(inverse, z.reshape(2 * n_modes, -1))
    return y.reshape(*grid, *z.shape[2:])


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


# erf(z) = z P(z^2) / Q(z^2) on |z| <= 4, the rational approximation of Eigen's float32
# erf (coefficients from z^0 upward). Its largest absolute error, about 3e-7, is that of
# XLA's own float32 erf; beyond |z| = 4, erf(z) rounds to +-1 in float32.
_ERF_P = (
    -1.60960333262415e-02,
    -2.95459980854025e-03,
    -7.34990630326855e-04,
    -5.69250639462346e-05,
    -2.10102402082508e-06,
    2.77068142495902e-08,
    -2.72614225801306e-10,
)
_ERF_Q = (
    -1.42647390514189e-02,
    -7.37332916720468e-03,
    -1.68282697438203e-03,
    -2.13374055278905e-04,
    -1.45660718464996e-05,
)
_ERF_CLAMP = 4.0


@jax.custom_jvp
def gelu_float32(x: jax.Array) -> jax.Array:
    """Exact GELU ``x Phi(x)`` of a float32 array, any shape, as ``(x N) / D``.

    ``N = (Q + z P) / 2``, ``D = Q``, where ``erf(z) = z P(z^2) / Q(z^2)`` for
    ``z = x / sqrt 2`` clamped to ``[-4, 4]``. Its error is that of XLA's float32 ``erf``
    (about 3e-7 absolute on ``erf``).

    The derivative rule is ``d/dx [x Phi(x)] = Phi(x) + x phi(x)`` with the exact normal
    density ``phi``, not the derivative of the rational form. Differentiated in reverse
    mode, the coefficient is computed in the forward pass and kept, in place of ``x``.
    """
    numerator, denominator = _normal_cdf_fraction(x)
    return (x * numerator) / denominator


@gelu_float32.defjvp
def _gelu_float32_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    numerator, denominator = _normal_cdf_fraction(x)
    pdf = jnp.exp(-0.5 * x * x) * (1.0 / math.sqrt(2.0 * math.pi))
    return gelu_float32(x), (numerator / denominator + x * pdf) * dx


def _normal_cdf_fraction(x):
    """``(N, D)`` with ``Phi(x) = N / D`` in float32 (see :func:`gelu_float32`)."""
    z = jnp.clip(x * (1.0 / math.sqrt(2.0)), -_ERF_CLAMP, _ERF_CLAMP)
    z2 = z * z
    p, q = _horner(_ERF_P, z2), _horner(_ERF_Q, z2)
    return 0.5 * (q + z * p), q


def _horner(coefficients, t):
    """``sum_i c_i t^i`` for ``coefficients = (c_0, c_1, ...)``."""
    value = coefficients[-1]
    for c in coefficients[-2::-1]:
        value = value * t + c
    return value


# 2 pi = _TWO_PI_HIGH + _TWO_PI_MID + _TWO_PI_LOW, the first exact in few bits so that
# k * _TWO_PI_HIGH is exact for the k of any reasonable argument.
_TWO_PI_HIGH = 6.28125
_TWO_PI_MID = float(np.float32(2 * math.pi - 6.28125))
_TWO_PI_LOW = float(np.float32(2 * math.pi - 6.28125 - _TWO_PI_MID))
_SINE_TAYLOR = tuple((-1) ** i / math.factorial(2 * i + 1) for i in range(6))


def _sine_of_reduced(x: jax.Array, quarter_turn: bool) -> jax.Array:
    """``sin(x + pi/2)`` when ``quarter_turn`` (the cosine), else ``sin(x)``."""
    shift = 0.5 * math.pi if quarter_turn else 0.0
    k = jnp.round((x + shift) * (1.0 / (2.0 * math.pi)))
    r = ((x - k * _TWO_PI_HIGH) - k * _TWO_PI_MID) - k * _TWO_PI_LOW + shift  # [-pi, pi]
    half_pi = 0.5 * math.pi
    r = jnp.where(r > half_pi, math.pi - r, jnp.where(r < -half_pi, -math.pi - r, r))
    return r * _horner(_SINE_TAYLOR, r * r)


@jax.custom_jvp
def sine_float32(x: jax.Array) -> jax.Array:
    """``sin(x)`` of a float32 array, any shape (see the module docstring)."""
    return _sine_of_reduced(x, quarter_turn=False)


@jax.custom_jvp
def cosine_float32(x: jax.Array) -> jax.Array:
    """``cos(x)`` of a float32 array, any shape, as ``sin(x + pi/2)`` with the quarter turn
    added after the reduction."""
    return _sine_of_reduced(x, quarter_turn=True)


@sine_float32.defjvp
def _sine_float32_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return sine_float32(x), cosine_float32(x) * dx


@cosine_float32.defjvp
def _cosine_float32_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return cosine_float32(x), -sine_float32(x) * dx
