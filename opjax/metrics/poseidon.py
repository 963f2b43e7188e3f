"""Poseidon's evaluation metric, as ``scOT/metrics.py`` and ``scOT/inference.py`` define it.

Poseidon groups output channels into physical variables by boundaries
``channel_groups = [g_0 = 0, g_1, ..., g_G]`` (its ``channel_slice_list``; e.g. ``[0, 1, 3, 4]``
is density | velocity (2 channels) | pressure). For sample ``b`` and group ``g``:

    rel_Lp[b, g] = 100 * (sum_{c in g, x} |pred - target|^p / sum_{c in g, x} |target|^p)^(1/p)

with a zero denominator replaced by ``1e-10`` (``relative_lp_error``, ``p = 1``, percent). The
benchmark number is the median over the test set per group (``median_relative_l1_error``)
and, for several groups, the mean of those medians (``mean_over_median_relative_l1_error``).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp


def channel_group_bounds(channel_groups: Sequence[int] | None, n_channels: int) -> list[int]:
    """The checked boundaries ``[0, ..., n_channels]`` of ``channel_groups`` (None: one)."""
    bounds = [0, n_channels] if channel_groups is None else [int(g) for g in channel_groups]
    ok = len(bounds) >= 2 and bounds[0] >= 0 and bounds[-1] <= n_channels
    if not ok or any(b <= a for a, b in zip(bounds[:-1], bounds[1:])):
        raise ValueError(
            f"channel_groups must be increasing channel boundaries within [0, {n_channels}], "
            f"got {channel_groups}"
        )
    return bounds


def poseidon_relative_lp(
    pred: jax.Array,
    target: jax.Array,
    channel_groups: Sequence[int] | None = None,
    *,
    p: float = 1,
    percent: bool = True,
) -> jax.Array:
    """Per-sample relative Lp error per channel group, ``[batch, n_groups]``.

    ``pred, target: [batch, *space, channels]``; ``channel_groups`` as in the module
    docstring (``None``: all channels form one group). ``percent`` multiplies by 100.
    """
    pred, target = jnp.asarray(pred), jnp.asarray(target)
    if pred.shape != target.shape:
        raise ValueError(f"pred has shape {pred.shape} but target has shape {target.shape}")
    if target.ndim < 3:
        raise ValueError(f"target must be [batch, *space, channels], got shape {target.shape}")
    bounds = channel_group_bounds(channel_groups, target.shape[-1])
    axes = tuple(range(1, target.ndim - 1))
    err = jnp.sum(jnp.abs(pred - target) ** p, axis=axes)  # [B, C]
    norm = jnp.sum(jnp.abs(target) ** p, axis=axes)
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        den = jnp.sum(norm[:, lo:hi], axis=-1)
        den = jnp.where(den == 0, 1e-10, den)
        out.append((jnp.sum(err[:, lo:hi], axis=-1) / den) ** (1.0 / p))
    rel = jnp.stack(out, axis=-1)
    return rel * 100.0 if percent else rel


def poseidon_median_relative_l1(
    pred: jax.Array,
    target: jax.Array,
    channel_groups: Sequence[int] | None = None,
    *,
    percent: bool = True,
) -> jax.Array:
    """Poseidon's benchmark number: median over samples of the relative L1 error, ``[n_groups]``.

    Pass the whole test set (the median does not decompose over batches). With several groups,
    Poseidon reports the mean over groups of these medians: take ``.mean()`` of the result.
    """
    return jnp.median(
        poseidon_relative_lp(pred, target, channel_groups, p=1, percent=percent), axis=0
    )
