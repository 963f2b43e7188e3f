"""Fixed-size batches of sample indices.

Every batch has exactly ``batch_size`` entries, so the train and eval steps compile once
and every batch divides evenly over the devices of the data mesh. The last batch of an
epoch is filled up with index 0 and weight 0; objectives and metrics weight each sample,
so padding never counts. The order of epoch ``e`` depends only on ``(seed, e)``, which is
what makes a resumed run repeat the uninterrupted one exactly.
"""

from __future__ import annotations

import math

import numpy as np


def epoch_batches(
    n_samples: int, batch_size: int, *, epoch: int = 0, seed: int = 0, shuffle: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``[n_batches, batch_size]`` (int32) and weights (float32, 1 real / 0 pad)."""
    if n_samples <= 0:
        raise ValueError("cannot batch an empty dataset")
    order = (
        np.random.default_rng([seed, epoch]).permutation(n_samples)
        if shuffle
        else np.arange(n_samples)
    )
    n_batches = math.ceil(n_samples / batch_size)
    padded = n_batches * batch_size
    indices = np.zeros(padded, np.int32)
    indices[:n_samples] = order
    weights = np.zeros(padded, np.float32)
    weights[:n_samples] = 1.0
    return indices.reshape(n_batches, batch_size), weights.reshape(n_batches, batch_size)
