"""The Well's metrics, as ``the_well/benchmark/metrics/spatial.py`` and ``spectral.py`` define them.

Every metric reduces over the ``n_spatial_dims`` axes just before the channel axis and keeps
all others, so it takes fields ``[batch, *space, channels]`` as well as trajectories
``[batch, time, *space, channels]`` (The Well's own layout) and returns ``[batch, (time,)
channels]``. With ``e = pred - target``, ``mean_x`` the mean over the ``N`` grid points and
``var_x`` the *unbiased* variance (``torch.std(...) ** 2``, divisor ``N - 1``):

    MSE   = mean_x e^2                        RMSE  = sqrt(MSE)
    NMSE  = MSE / (mean_x target^2 + eps)     NRMSE = sqrt(NMSE)
    VRMSE = sqrt(MSE / (var_x target + eps))  MAE   = mean_x |e|
    L-inf = max_x |e|
    PearsonR = mean_x[(p - mean_x p)(t - mean_x t)] / (std_x p * std_x t + eps)

with ``eps = 1e-7``. PearsonR mixes a biased covariance with unbiased standard deviations, as
The Well does, so a perfect prediction scores ``(N - 1) / N``, not 1.

The Well's trainer averages each metric over the batch, then over the time steps of a window
(``T=all`` or log-spaced intervals) per field, and over fields for the ``full`` number.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

EPS = 1e-7


def _axes(pred: jax.Array, target: jax.Array, n_spatial_dims: int) -> tuple[int, ...]:
    """Check shapes; return the spatial axes (the ``n_spatial_dims`` before channels)."""
    if pred.shape != target.shape:
        raise ValueError(f"pred has shape {pred.shape} but target has shape {target.shape}")
    if not 1 <= n_spatial_dims <= target.ndim - 1:
        raise ValueError(
            f"n_spatial_dims={n_spatial_dims} does not fit target of shape {target.shape} "
            "([..., *space, channels])"
        )
    return tuple(range(target.ndim - 1 - n_spatial_dims, target.ndim - 1))


def well_mse(pred: jax.Array, target: jax.Array, *, n_spatial_dims: int) -> jax.Array:
    """The Well ``MSE``: ``mean_x (pred - target)^2``, shape ``target.shape`` minus space."""
    pred, target = jnp.asarray(pred), jnp.asarray(target)
    return jnp.mean((pred - target) ** 2, axis=_axes(pred, target, n_spatial_dims))


def well_rmse(pred: jax.Array, target: jax.Array, *, n_spatial_dims: int) -> jax.Array:
    """The Well ``RMSE``: ``sqrt(MSE)``."""
    return jnp.sqrt(well_mse(pred, target, n_spatial_dims=n_spatial_dims))


def well_nmse(
    pred: jax.Array,
    target: jax.Array,
    *,
    n_spatial_dims: int,
    eps: float = EPS,
    norm_mode: str = "norm",
) -> jax.Array:
    """The Well ``NMSE``: ``MSE / (norm + eps)``.

    ``norm`` is ``mean_x target^2`` (``norm_mode="norm"``, the default) or the unbiased
    spatial variance of ``target`` (``norm_mode="std"``, which makes it The Well's ``VMSE``).
    """
    pred, target = jnp.asarray(pred), jnp.asarray(target)
    axes = _axes(pred, target, n_spatial_dims)
    if norm_mode == "norm":
        norm = jnp.mean(target**2, axis=axes)
    elif norm_mode == "std":
        norm = jnp.var(target, axis=axes, ddof=1)
    else:
        raise ValueError(f"norm_mode must be 'norm' or 'std', got {norm_mode!r}")
    return well_mse(pred, target, n_spatial_dims=n_spatial_dims) / (norm + eps)


def well_nrmse(
    pred: jax.Array,
    target: jax.Array,
    *,
    n_spatial_dims: int,
    eps: float = EPS,
    norm_mode: str = "norm",
) -> jax.Array:
    """The Well ``NRMSE``: ``sqrt(NMSE)``."""
    return jnp.sqrt(
        well_nmse(pred, target, n_spatial_dims=n_spatial_dims, eps=eps, norm_mode=norm_mode)
    )


def well_vrmse(
    pred: jax.Array, target: jax.Array, *, n_spatial_dims: int, eps: float = EPS
) -> jax.Array:
    """The Well ``VRMSE``: ``sqrt(MSE / (var_x target + eps))``, unbiased variance.

    1 for a prediction that is the target's spatial mean; The Well's headline metric.
    """
    return well_nrmse(pred, target, n_spatial_dims=n_spatial_dims, eps=eps, norm_mode="std")


def well_mae(pred: jax.Array, target: jax.Array, *, n_spatial_dims: int) -> jax.Array:
    """The Well ``MAE``: ``mean_x |pred - target|``."""
    pred, target = jnp.asarray(pred), jnp.asarray(target)
    return jnp.mean(jnp.abs(pred - target), axis=_axes(pred, target, n_spatial_dims))


def well_linf(pred: jax.Array, target: jax.Array, *, n_spatial_dims: int) -> jax.Array:
    """The Well ``LInfinity``: ``max_x |pred - target|``."""
    pred, target = jnp.asarray(pred), jnp.asarray(target)
    return jnp.max(jnp.abs(pred - target), axis=_axes(pred, target, n_spatial_dims))


def well_pearson_r(
    pred: jax.Array, target: jax.Array, *, n_spatial_dims: int, eps: float = EPS
) -> jax.Array:
    """The Well ``PearsonR`` per channel: ``cov_x(p, t) / (std_x p * std_x t + eps)``.

    ``cov_x`` divides by ``N``, the standard deviations by ``N - 1`` (The Well's choice), so
    ``pred == target`` gives ``(N - 1) / N`` (times ``var / (var + eps)``).
    """
    pred, target = jnp.asarray(pred), jnp.asarray(target)
    axes = _axes(pred, target, n_spatial_dims)
    dp = pred - jnp.mean(pred, axis=axes, keepdims=True)
    dt = target - jnp.mean(target, axis=axes, keepdims=True)
    cov = jnp.mean(dp * dt, axis=axes)
    std = jnp.std(pred, axis=axes, ddof=1) * jnp.std(target, axis=axes, ddof=1)
    return cov / (std + eps)


def default_spectral_bins(spatial_shape: Sequence[int]) -> np.ndarray:
    """The Well's default bin edges for ``binned_spectral_mse``: 4 edges, 3 bins.

    ``logspace(log10(2 pi / max(n)), log10(pi sqrt(d) + 1e-6), 4)`` with the first edge then
    set to 0, in radians per grid spacing (``|k| = 2 pi sqrt(sum_d (m_d / n_d)^2)`` for the
    integer frequencies ``m_d`` of ``fftfreq``).
    """
    d = len(spatial_shape)
    bins = np.logspace(
        np.log10(2 * np.pi / max(spatial_shape)), np.log10(np.pi * np.sqrt(d) + 1e-6), 4
    )
    bins[0] = 0.0
    return bins


@lru_cache(maxsize=32)
def _bin_matrix(shape: tuple[int, ...], bins: tuple[float, ...]) -> np.ndarray:
    """One-hot ``[prod(shape), len(bins) - 1]``: bin ``i`` holds ``bins[i] <= |k| < bins[i+1]``."""
    k2 = 0.0
    for i, n in enumerate(shape):
        k = 2 * np.pi * np.fft.fftfreq(n)
        k2 = k2 + k.reshape((n,) + (1,) * (len(shape) - 1 - i)) ** 2
    wn = np.sqrt(np.broadcast_to(k2, shape)).reshape(-1)
    index = np.searchsorted(np.asarray(bins), wn, side="right") - 1
    return (index[:, None] == np.arange(len(bins) - 1)[None, :]).astype(np.float64)


def well_binned_spectral_mse(
    pred: jax.Array,
    target: jax.Array,
    *,
    n_spatial_dims: int,
    bins: Sequence[float] | None = None,
) -> tuple[jax.Array, jax.Array]:
    """The Well ``binned_spectral_mse``: the MSE carried by each band of ``|k|``.

    With ``E = fftn_space(pred - target)``, ``Y = fftn_space(target)``, ``N`` grid points and
    ``n_i`` modes in bin ``i`` (edges ``bins``, default ``default_spectral_bins``; modes at or
    beyond the last edge are dropped):

        mse_i  = sum_{k in bin i} |E_k|^2 / N^2 * n_i / (n_i + 1e-7)
        nmse_i = mse_i / (energy_i + 1e-7),   energy_i the same sum for Y

    By Parseval the ``mse_i`` add up to ``MSE`` when the bins cover every mode (up to the
    ``n_i / (n_i + 1e-7)`` factor The Well carries from its per-bin mean). Returns
    ``(mse, nmse)``, each of shape ``[..., n_bins, channels]`` (The Well's
    ``spectral_error_mse_per_bin_i`` is ``mse[..., i, :]``).
    """
    pred, target = jnp.asarray(pred), jnp.asarray(target)
    axes = _axes(pred, target, n_spatial_dims)
    shape = tuple(target.shape[a] for a in axes)
    edges = default_spectral_bins(shape) if bins is None else np.asarray(bins, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"bins must be at least 2 increasing edges, got {edges}")
    onehot = _bin_matrix(shape, tuple(float(e) for e in edges))
    counts = onehot.sum(axis=0)
    n_points = float(np.prod(shape))
    weight = jnp.asarray(counts / (counts + 1e-7) / n_points**2, dtype=target.dtype)
    lead = target.shape[: axes[0]]

    def binned(u: jax.Array) -> jax.Array:
        power = jnp.abs(jnp.fft.fftn(u, axes=axes)) ** 2
        power = power.reshape(*lead, -1, target.shape[-1])
        summed = jnp.einsum("...mc,mi->...ic", power, jnp.asarray(onehot, dtype=power.dtype))
        return summed * weight.reshape((1,) * len(lead) + (-1, 1))

    mse = binned(pred - target)
    energy = binned(target)
    return mse, mse / (energy + 1e-7)
