"""PDEBench's rollout metrics, as ``metric_func`` in ``pdebench/models/metrics.py`` defines them.

Inputs are opjax trajectories ``pred, target: [batch, time, *space, channels]`` with one to
three spatial axes (PDEBench stores ``[batch, *space, time, channels]``; the maths is the same).
The first ``initial_step`` time steps are the model's given context and are dropped before
anything is measured, as ``metric_func(..., initial_step=...)`` does. With ``e = pred - target``
on the remaining ``T`` steps, ``N = prod(space)`` points and batch size ``B``, every metric is
first a ``[channels, T]`` table, then (``reduce=True``, PDEBench's ``if_mean=True``) its mean
over channels and time:

    RMSE[c, t]   = mean_b sqrt(mean_x e^2)
    nRMSE[c, t]  = mean_b [ sqrt(mean_x e^2) / sqrt(mean_x target^2) ]     (no epsilon)
    cRMSE[c, t]  = sqrt(mean_b (sum_x e)^2) / N                            ("conserved")
    max[c, t]    = max_b max_x |e|
    bRMSE[c, t]  = mean_b sqrt(mean_{x on the boundary} e^2)                ("boundary")
    fRMSE        = band means of a per-wavenumber RMSE (see ``pdebench_frmse``)

Boundary points: 1D the two end points; 2D the four edges, each edge point counted once per
edge it lies on (corners twice), over ``2 nx + 2 ny`` points; 3D the six faces over
``2 (nx ny + ny nz + nz nx)`` points, and there, as in PDEBench, the channels are *summed*
inside the square root, so the 3D table has one row: ``[1, T]``.

The averaging order matters: a square root is taken per sample (RMSE, nRMSE, bRMSE) or after
the batch mean (cRMSE, fRMSE), and the max runs over the batch. PDEBench's ``metrics`` calls
``metric_func`` once per evaluation batch and reports the mean of the per-batch values, so
feed these functions one evaluation batch at a time and average to reproduce its numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

I_LOW = 4
I_HIGH = 12
BANDS = ("low", "mid", "high")


def _context_dropped(
    pred: jax.Array, target: jax.Array, initial_step: int
) -> tuple[jax.Array, jax.Array]:
    """Check shapes and drop the first ``initial_step`` time steps."""
    pred, target = jnp.asarray(pred), jnp.asarray(target)
    if pred.shape != target.shape:
        raise ValueError(f"pred has shape {pred.shape} but target has shape {target.shape}")
    if not 4 <= target.ndim <= 6:
        raise ValueError(
            "target must be a trajectory [batch, time, *space, channels] with 1 to 3 spatial "
            f"axes, got shape {target.shape}"
        )
    if not 0 <= initial_step < target.shape[1]:
        raise ValueError(
            f"initial_step={initial_step} leaves no time steps of the {target.shape[1]} in target"
        )
    return pred[:, initial_step:], target[:, initial_step:]


def _spatial_axes(u: jax.Array) -> tuple[int, ...]:
    return tuple(range(2, u.ndim - 1))


def _finish(table: jax.Array, reduce: bool) -> jax.Array:
    """``[T, C]`` -> ``[C, T]`` table, or its mean."""
    return jnp.mean(table) if reduce else table.T


def pdebench_rmse(
    pred: jax.Array, target: jax.Array, *, initial_step: int = 1, reduce: bool = True
) -> jax.Array:
    """PDEBench RMSE (``err_RMSE``): ``mean_b sqrt(mean_x e^2)`` per channel and step.

    Returns a scalar (mean over channels and steps) or, with ``reduce=False``, ``[C, T]``.
    """
    pred, target = _context_dropped(pred, target, initial_step)
    per_sample = jnp.sqrt(jnp.mean((pred - target) ** 2, axis=_spatial_axes(target)))
    return _finish(jnp.mean(per_sample, axis=0), reduce)


def pdebench_nrmse(
    pred: jax.Array, target: jax.Array, *, initial_step: int = 1, reduce: bool = True
) -> jax.Array:
    """PDEBench normalised RMSE (``err_nRMSE``).

    ``mean_b [sqrt(mean_x e^2) / sqrt(mean_x target^2)]`` per channel and step; there is no
    epsilon, so an all-zero target field gives ``inf`` or ``nan`` as it does in PDEBench.
    Returns a scalar or, with ``reduce=False``, ``[C, T]``.
    """
    pred, target = _context_dropped(pred, target, initial_step)
    axes = _spatial_axes(target)
    err = jnp.sqrt(jnp.mean((pred - target) ** 2, axis=axes))
    norm = jnp.sqrt(jnp.mean(target**2, axis=axes))
    return _finish(jnp.mean(err / norm, axis=0), reduce)


def pdebench_crmse(
    pred: jax.Array, target: jax.Array, *, initial_step: int = 1, reduce: bool = True
) -> jax.Array:
    """PDEBench conserved-quantity RMSE (``err_CSV``): ``sqrt(mean_b (sum_x e)^2) / N``.

    ``N`` is the number of grid points. Returns a scalar or, with ``reduce=False``, ``[C, T]``.
    """
    pred, target = _context_dropped(pred, target, initial_step)
    axes = _spatial_axes(target)
    n = np.prod([target.shape[a] for a in axes])
    total = jnp.sum(pred, axis=axes) - jnp.sum(target, axis=axes)
    return _finish(jnp.sqrt(jnp.mean(total**2, axis=0)) / n, reduce)


def pdebench_max_error(
    pred: jax.Array, target: jax.Array, *, initial_step: int = 1, reduce: bool = True
) -> jax.Array:
    """PDEBench max error (``err_Max``): ``max_b max_x |e|`` per channel and step.

    Returns the mean over channels and steps of that worst case, or ``[C, T]``.
    """
    pred, target = _context_dropped(pred, target, initial_step)
    worst = jnp.max(jnp.abs(pred - target), axis=(0, *_spatial_axes(target)))
    return _finish(worst, reduce)


def _faces(u: jax.Array) -> list[jax.Array]:
    """The first and last slice along every spatial axis of ``u: [B, T, *space, C]``."""
    out = []
    for axis in _spatial_axes(u):
        n = u.shape[axis]
        out.append(jax.lax.slice_in_dim(u, 0, 1, axis=axis))
        out.append(jax.lax.slice_in_dim(u, n - 1, n, axis=axis))
    return out


def pdebench_brmse(
    pred: jax.Array, target: jax.Array, *, initial_step: int = 1, reduce: bool = True
) -> jax.Array:
    """PDEBench boundary RMSE (``err_BD``): RMSE over the boundary points only.

    ``mean_b sqrt(sum_{faces} sum_{face points} e^2 / n_boundary)`` with ``n_boundary`` = 2 (1D),
    ``2 nx + 2 ny`` (2D, corners counted on both edges) or ``2 (nx ny + ny nz + nz nx)`` (3D).
    1D and 2D give a ``[C, T]`` table; 3D sums the channels inside the square root as PDEBench
    does and gives ``[1, T]``. Returns the mean of the table with ``reduce=True``.
    """
    pred, target = _context_dropped(pred, target, initial_step)
    axes = _spatial_axes(target)
    shape = [target.shape[a] for a in axes]
    err = pred - target
    squares = sum(jnp.sum(face**2, axis=axes) for face in _faces(err))  # [B, T, C]
    if len(axes) == 3:
        nx, ny, nz = shape
        count = 2 * (nx * ny + ny * nz + nz * nx)
        squares = jnp.sum(squares, axis=-1, keepdims=True)
    else:
        count = 2 * sum(shape) if len(axes) == 2 else 2
    return _finish(jnp.mean(jnp.sqrt(squares / count), axis=0), reduce)


@lru_cache(maxsize=32)
def _shell_matrix(shape: tuple[int, ...]) -> np.ndarray:
    """One-hot ``[prod(n_d // 2), n_shells]``: mode ``(i, j, ...)`` -> ``floor(|(i, j, ...)|)``."""
    half = [n // 2 for n in shape]
    grids = np.meshgrid(*[np.arange(h) for h in half], indexing="ij")
    radius = np.floor(np.sqrt(sum(g.astype(np.float64) ** 2 for g in grids))).astype(int)
    n_shells = min(half)
    return (radius.reshape(-1)[:, None] == np.arange(n_shells)[None, :]).astype(np.float64)


def _band_means(per_mode: jax.Array, i_low: int, i_high: int) -> jax.Array:
    """``[T, K, C]`` -> ``[T, 3, C]``: means over ``k < i_low``, ``i_low <= k < i_high``, the rest.

    Bounds past ``K`` are clipped, as Python slicing does in PDEBench.
    """
    k = per_mode.shape[1]
    bands = []
    for lo, hi in ((0, i_low), (i_low, i_high), (i_high, k)):
        lo, hi = min(lo, k), min(hi, k)
        if hi > lo:
            bands.append(jnp.mean(per_mode[:, lo:hi], axis=1))
        else:  # PDEBench takes the mean of an empty slice: nan
            bands.append(jnp.full_like(per_mode[:, 0], jnp.nan))
    return jnp.stack(bands, axis=1)


def pdebench_frmse(
    pred: jax.Array,
    target: jax.Array,
    *,
    initial_step: int = 1,
    domain_lengths: float | Sequence[float] = 1.0,
    i_low: int = I_LOW,
    i_high: int = I_HIGH,
    reduce: bool = True,
) -> jax.Array:
    """PDEBench Fourier-space RMSE (``err_F``) in low, mid and high wavenumber bands.

    With ``E = FFT_space(e)`` (unnormalised, per sample, channel and step) and ``L_d`` the
    domain lengths (PDEBench's ``Lx, Ly, Lz``):

    * 1D: ``E = rfft(e)``, modes ``k = 0 .. nx // 2``;
      ``F[k] = sqrt(mean_b |E_k|^2) / nx * Lx``.
    * 2D/3D: ``E = fftn(e)``; only the modes with every index ``0 <= i_d < n_d // 2`` (the
      non-negative quadrant/octant, Nyquist excluded) are used, gathered into shells
      ``s = floor(sqrt(sum_d i_d^2))`` for ``s < min_d(n_d // 2)``;
      ``F[s] = sqrt(mean_b sum_{modes in s} |E|^2) / prod(n_d) * prod(L_d)``.

    The bands are the means of ``F`` over ``k`` in ``[0, i_low)``, ``[i_low, i_high)`` and
    ``[i_high, K)`` (defaults 4 and 12); an empty band is ``nan``, as in PDEBench.
    Returns ``[3]`` (low, mid, high; each the mean over channels and steps) or, with
    ``reduce=False``, ``[C, 3, T]``.
    """
    pred, target = _context_dropped(pred, target, initial_step)
    axes = _spatial_axes(target)
    shape = tuple(target.shape[a] for a in axes)
    lengths = (
        (float(domain_lengths),) * len(axes)
        if isinstance(domain_lengths, (int, float))
        else tuple(float(v) for v in domain_lengths)
    )
    if len(lengths) != len(axes):
        raise ValueError(f"domain_lengths has {len(lengths)} entries for {len(axes)} spatial axes")
    scale = float(np.prod(lengths)) / float(np.prod(shape))
    err = pred - target
    if len(axes) == 1:
        power = jnp.abs(jnp.fft.rfft(err, axis=2)) ** 2  # [B, T, K, C]
    else:
        spectrum = jnp.fft.fftn(err, axes=axes)
        for axis, n in zip(axes, shape):
            spectrum = jax.lax.slice_in_dim(spectrum, 0, n // 2, axis=axis)
        b, t, c = target.shape[0], target.shape[1], target.shape[-1]
        flat = (jnp.abs(spectrum) ** 2).reshape(b, t, -1, c)
        shells = jnp.asarray(_shell_matrix(shape), dtype=flat.dtype)
        power = jnp.einsum("btmc,ms->btsc", flat, shells)
    per_mode = jnp.sqrt(jnp.mean(power, axis=0)) * scale  # [T, K, C]
    bands = _band_means(per_mode, i_low, i_high)  # [T, 3, C]
    if reduce:
        return jnp.mean(bands, axis=(0, 2))
    return jnp.transpose(bands, (2, 1, 0))


def pdebench_metrics(
    pred: jax.Array,
    target: jax.Array,
    *,
    initial_step: int = 1,
    domain_lengths: float | Sequence[float] = 1.0,
    i_low: int = I_LOW,
    i_high: int = I_HIGH,
    reduce: bool = True,
) -> dict[str, jax.Array]:
    """All of PDEBench's ``metric_func`` outputs in one dict.

    Keys: ``rmse``, ``nrmse``, ``crmse``, ``brmse``, ``max_error``, ``frmse_low``,
    ``frmse_mid``, ``frmse_high``; scalars, or ``[C, T]`` tables with ``reduce=False``
    (``brmse`` is ``[1, T]`` in 3D). See the module docstring for the definitions.
    """
    kw = dict(initial_step=initial_step, reduce=reduce)
    out = {
        "rmse": pdebench_rmse(pred, target, **kw),
        "nrmse": pdebench_nrmse(pred, target, **kw),
        "crmse": pdebench_crmse(pred, target, **kw),
        "brmse": pdebench_brmse(pred, target, **kw),
        "max_error": pdebench_max_error(pred, target, **kw),
    }
    bands = pdebench_frmse(
        pred, target, domain_lengths=domain_lengths, i_low=i_low, i_high=i_high, **kw
    )
    for i, name in enumerate(BANDS):
        out[f"frmse_{name}"] = bands[i] if reduce else bands[:, i]
    return out
