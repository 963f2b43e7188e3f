"""neuraloperator's ``.pt`` dataset files (e.g. ``darcy_train_16.pt``).

Each file is a ``torch.save`` dict of tensors, fields without a channel axis:
``x [n, *space]`` (input) and ``y [n, *space]`` (target), plus optional scalars such as
``visc``. Read with :func:`opjax.data.formats.torch_archive.load_torch_archive`, so no
PyTorch is needed and no pickled code runs. Returned as a Sample with a trailing channel
axis and float32 values.
"""

from __future__ import annotations

import os

import numpy as np

from opjax.data.errors import DataFormatError
from opjax.data.fields import ArrayField, FieldFile
from opjax.data.formats.torch_archive import load_torch_archive
from opjax.data.sample import Sample, validate_sample


def read_neuralop_pt(
    path: str | os.PathLike,
    *,
    x_key: str = "x",
    y_key: str = "y",
    n_samples: int | None = None,
    channel_last: bool = False,
) -> Sample:
    """Read a neuraloperator ``.pt`` file as a Sample ``{"x": [n, *space, c], "y": ...}``.

    Args:
        path: the ``.pt`` file.
        x_key, y_key: the dict keys of input and target.
        n_samples: keep the first ``n_samples`` (all when None).
        channel_last: the arrays already end in a channel axis; otherwise one is added.
    """
    path = os.fspath(path)
    content = load_torch_archive(path)
    if not isinstance(content, dict):
        raise DataFormatError(f"{path}: expected a dict of tensors, found {type(content).__name__}")
    sample = {}
    for role, key in (("x", x_key), ("y", y_key)):
        if key not in content:
            raise DataFormatError(
                f"{path}: missing key {key!r} for the {role} field; keys: {sorted(content)}"
            )
        array = np.asarray(content[key])
        if array.ndim < 2:
            raise DataFormatError(f"{path}: {key!r} has shape {array.shape}, expected [n, *space]")
        if not channel_last:
            array = array[..., None]
        sample[role] = array.astype(np.float32)
    if n_samples is not None:
        available = len(sample["x"])
        if n_samples > available:
            raise DataFormatError(f"{path}: asked for {n_samples} samples, file has {available}")
        sample = {k: v[:n_samples] for k, v in sample.items()}
    return validate_sample(sample, source=path)


def open_neuralop_pt(path: str | os.PathLike) -> FieldFile:
    """Open a neuraloperator ``.pt`` file as a :class:`FieldFile` (read whole: ``torch.save``
    archives cannot be read lazily). Every tensor with a sample axis ``[n, *space]``
    (``n`` that of ``x``) becomes a steady one-channel field; scalars become ``params``."""
    path = os.fspath(path)
    content = load_torch_archive(path)
    if not isinstance(content, dict):
        raise DataFormatError(f"{path}: expected a dict of tensors, found {type(content).__name__}")
    arrays = {k: np.asarray(v) for k, v in content.items() if hasattr(v, "shape")}
    n = arrays["x"].shape[0] if "x" in arrays and arrays["x"].ndim >= 2 else None
    fields = {
        name: ArrayField(name, a, (*a.shape, 1), False, (name,))
        for name, a in arrays.items()
        if a.ndim >= 2 and (n is None or a.shape[0] == n)
    }
    if not fields:
        raise DataFormatError(f"{path}: no tensor of shape [n, *space]; keys: {sorted(content)}")
    params = {k: v for k, v in content.items() if k not in fields}
    return FieldFile(path=path, format="neuralop_pt", fields=fields, params=params)
