"""PDE-Refiner's rollout metrics, as pdearena defines them.

``pearson_correlation`` mirrors ``pdearena.modules.loss.pearson_correlation``: for each sample
``b`` and rollout step ``t`` the predicted and true fields are flattened over space *and*
channels together (``M`` values) and

    corr[b, t] = mean_x[(p - mean_x p)(u - mean_x u)] / max(std_x p * std_x u, tiny)

with biased (divisor ``M``) standard deviations and ``tiny`` float32's smallest normal number.

``high_correlation_time`` mirrors ``PDERefiner.test_epoch_end``: the correlation is averaged
over the test set per step, and for each threshold (0.8, 0.9, 0.95) pdearena logs
``time_till_corr_lower_{threshold} = (mean_corr > threshold).sum()``, the number of rollout
steps above the threshold; times the model's step ``dt`` it is the paper's
"high-correlation time" in seconds. For a correlation that decays without recovering it is
the time until the mean correlation first drops to or below the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

THRESHOLDS = (0.8, 0.9, 0.95)
_TINY = float(np.finfo(np.float32).tiny)


def pearson_correlation(pred: jax.Array, target: jax.Array) -> jax.Array:
    """Per-sample, per-step Pearson correlation over space and channels, ``[batch, time]``.

    ``pred, target: [batch, time, *space, channels]`` (rollout steps only, without the
    conditioning history, as pdearena compares them).
    """
    pred, target = jnp.asarray(pred), jnp.asarray(target)
    if pred.shape != target.shape:
        raise ValueError(f"pred has shape {pred.shape} but target has shape {target.shape}")
    if target.ndim < 3:
        raise ValueError(
            f"target must be a trajectory [batch, time, *space, channels], got {target.shape}"
        )
    b, t = target.shape[:2]
    p = pred.reshape(b, t, -1)
    u = target.reshape(b, t, -1)
    dp = p - jnp.mean(p, axis=-1, keepdims=True)
    du = u - jnp.mean(u, axis=-1, keepdims=True)
    cov = jnp.mean(dp * du, axis=-1)
    std = jnp.std(p, axis=-1) * jnp.std(u, axis=-1)
    return cov / jnp.maximum(std, _TINY)


def high_correlation_time(
    corr: jax.Array,
    thresholds: float | Sequence[float] = THRESHOLDS,
    *,
    dt: float = 1.0,
    rule: str = "count",
) -> jax.Array:
    """Time the test-set mean correlation stays above each threshold, ``[n_thresholds]``.

    ``corr: [..., time]``, e.g. ``pearson_correlation``'s ``[batch, time]``; all leading axes
    are averaged first (pdearena averages per batch, then over batches: the same for equal
    batch sizes). ``rule="count"`` (pdearena's): ``dt * #{t : mean_corr[t] > threshold}``.
    ``rule="first"``: ``dt * (index of the first step with mean_corr <= threshold)``, the
    number of steps before the first drop (all steps if it never drops). A scalar
    ``thresholds`` gives a scalar.
    """
    corr = jnp.asarray(corr)
    if corr.ndim < 1:
        raise ValueError("corr must have a time axis last, got a scalar")
    mean = jnp.mean(corr.reshape(-1, corr.shape[-1]), axis=0)  # [time]
    levels = jnp.asarray(thresholds, dtype=mean.dtype)
    above = mean[None, :] > jnp.reshape(levels, (-1, 1))  # [n, time]
    if rule == "count":
        steps = jnp.sum(above, axis=-1)
    elif rule == "first":
        steps = jnp.where(jnp.all(above, axis=-1), mean.shape[0], jnp.argmin(above, axis=-1))
    else:
        raise ValueError(f"rule must be 'count' or 'first', got {rule!r}")
    out = steps.astype(mean.dtype) * dt
    return out.reshape(levels.shape)
