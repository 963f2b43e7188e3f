"""Uncertainty of a rollout from independent samples of a stochastic model (PDE-Refiner).

PDE-Refiner's refinement draws noise, so rollouts with different keys
(:func:`opjax.evaluation.rollout.make_sampled_rollout`) drift apart where the model is
unsure. Given samples ``[n_samples, batch, time, *space, channels]`` (``S >= 2``):

* :func:`sample_std`: the pointwise standard deviation over the samples, as a root mean
  square over space and channels, ``[batch, time]``;
* :func:`sample_correlation`: the mean over pairs of samples ``i < j`` of their Pearson
  correlation (:func:`~opjax.metrics.correlation.pearson_correlation`),
  ``[batch, time]``. Where it drops the samples disagree: the paper estimates the
  high-correlation time of a rollout, without the ground truth, as the time the samples'
  correlation stays above the threshold (apply
  :func:`~opjax.metrics.correlation.high_correlation_time` to it).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from opjax.metrics.correlation import pearson_correlation


def _checked(samples: jax.Array) -> jax.Array:
    samples = jnp.asarray(samples)
    if samples.ndim < 4 or samples.shape[0] < 2:
        raise ValueError(
            "samples must be [n_samples >= 2, batch, time, *space, channels]; "
            f"got shape {samples.shape}"
        )
    return samples


def sample_std(samples: jax.Array) -> jax.Array:
    """``[batch, time]``: ``sqrt(mean_{x, c} var_s(samples))`` (unbiased variance)."""
    samples = _checked(samples)
    variance = jnp.var(samples, axis=0, ddof=1)
    return jnp.sqrt(jnp.mean(variance.reshape(*variance.shape[:2], -1), axis=-1))


def sample_correlation(samples: jax.Array) -> jax.Array:
    """``[batch, time]``: the mean Pearson correlation over all pairs of samples."""
    samples = _checked(samples)
    i, j = np.triu_indices(samples.shape[0], k=1)
    pairs = jax.vmap(pearson_correlation)(samples[i], samples[j])  # [pairs, batch, time]
    return jnp.mean(pairs, axis=0)
