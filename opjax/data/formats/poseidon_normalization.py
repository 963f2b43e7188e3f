"""scOT's input normalisation, from the constants a Poseidon file carries.

:func:`~opjax.data.formats.poseidon.open_poseidon` stores, per field, scOT's per-channel
constants as ``FieldFile.constants = {"mean": {field: [c]}, "std": {field: [c]}, ...}``.
For a field key naming several fields, scOT's model sees the channels of each stacked in
order, each normalised as ``(u - mean) / std``; :func:`scot_normalization` stacks the
constants the same way.
"""

from __future__ import annotations

import numpy as np

from opjax.data.errors import DataFormatError
from opjax.data.fields import FieldFile, parse_field_key

__all__ = ["scot_normalization"]


def scot_normalization(file: FieldFile, key: str) -> tuple[np.ndarray, np.ndarray]:
    """scOT's per-channel ``(mean, std)``, each ``[c]``, for a field key such as
    ``"density[0],velocity[0],pressure[0]"``, in the channel order
    :func:`~opjax.data.fields.read_sample` stacks them; ``(x - mean) / std`` is scOT's input.

    Raises:
        DataFormatError: the file has no constants (an unknown dataset), or none for a
            field the key names.
    """
    if "mean" not in file.constants:
        raise DataFormatError(f"{file.path}: no normalisation constants (unknown dataset)")
    means, stds = [], []
    for part in key.split(","):
        name, _ = parse_field_key(part)
        if name not in file.constants["mean"]:
            raise DataFormatError(
                f"{file.path}: no normalisation constants for field {name!r} "
                f"(fields: {sorted(file.constants['mean'])})"
            )
        means.append(file.constants["mean"][name])
        stds.append(file.constants["std"][name])
    return np.concatenate(means), np.concatenate(stds)
