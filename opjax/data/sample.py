"""The Sample schema shared by every reader, objective and model.

A Sample is a dict of arrays, channels-last:

* ``x``: input field ``[batch, *space, in_channels]``;
* ``y``: target field ``[batch, *space, out_channels]`` (trajectories:
  ``[batch, time, *space, channels]``);
* ``t`` (optional): lead time ``[batch]``;
* ``params`` (optional): PDE coefficients ``[batch, n_params]``;
* ``coords`` (optional): query points ``[batch, *points, dim]``.

Models take ``x`` positionally and the conditioning inputs by keyword: the lead time as
``t`` and the PDE parameters as ``z`` (:func:`conditioning`).
"""

from __future__ import annotations

import numpy as np

from opjax.data.errors import DataFormatError

Sample = dict[str, np.ndarray]

REQUIRED_KEYS = ("x", "y")
OPTIONAL_KEYS = ("t", "params", "coords")
# Sample key -> the model keyword that receives it.
CONDITIONING_KEYWORDS = {"t": "t", "params": "z"}


def conditioning(sample: dict) -> dict:
    """The model's conditioning keywords for the keys ``sample`` has:
    ``{"t": sample["t"], "z": sample["params"]}``, either or both, or ``{}``."""
    return {kw: sample[key] for key, kw in CONDITIONING_KEYWORDS.items() if key in sample}


def validate_sample(sample: Sample, *, source: str = "sample") -> Sample:
    """Check keys, batch sizes and finiteness; return the sample unchanged.

    Raises:
        DataFormatError: naming ``source`` and the offending key.
    """
    for key in REQUIRED_KEYS:
        if key not in sample:
            raise DataFormatError(f"{source}: missing key {key!r}")
    unknown = set(sample) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS)
    if unknown:
        raise DataFormatError(f"{source}: unknown keys {sorted(unknown)}")
    n = len(sample["x"])
    for key, value in sample.items():
        if len(value) != n:
            raise DataFormatError(f"{source}: {key!r} has {len(value)} samples but 'x' has {n}")
        if np.issubdtype(value.dtype, np.floating) and not np.all(np.isfinite(value)):
            raise DataFormatError(f"{source}: {key!r} contains NaN or infinite values")
    space = sample["x"].shape[1:-1]
    y_space = sample["y"].shape[1:-1]
    # A trajectory target carries a leading time axis: [batch, time, *space, channels].
    if y_space != space and y_space[1:] != space:
        raise DataFormatError(
            f"{source}: 'x' {sample['x'].shape} and 'y' {sample['y'].shape} are on different grids"
        )
    return sample
