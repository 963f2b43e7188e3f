"""Reference Latent Spectral Model weights -> opjax ``LSM`` variables.

The reference (thuml/Latent-Spectral-Models, ``models/LSM_2D.py`` and ``LSM_3D.py``) is
channels-first PyTorch: convolutions ``[out, in, *kernel]``, linear layers ``[out, in]``.
opjax is channels-last with kernels ``[*kernel, in, out]`` and ``[in, out]``. The neural
spectral blocks' ``weights`` and ``latent`` and the 1x1 attention projections keep their
channel order (opjax splits the encoder projection's output channels into key/value the
same way), so they only transpose. Module names follow the reference: ``inc``,
``down{i}``, ``up{i}``, ``outc``, ``process{i}``, ``fc0``, ``fc1``, ``fc2``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np


def _array(state: Mapping, key: str) -> np.ndarray:
    if key not in state:
        raise KeyError(f"reference LSM state dict has no tensor {key!r}")
    value = state[key]
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float32)


def _conv(weight: np.ndarray) -> np.ndarray:
    """``[out, in, *k] -> [*k, in, out]``."""
    return np.ascontiguousarray(np.moveaxis(weight, (0, 1), (-1, -2)))


def _pointwise(state: Mapping, prefix: str) -> dict:
    """``Linear`` ``[out, in]`` or 1x1 conv ``[out, in, 1, ...]`` -> ``kernel [in, out]``, bias."""
    weight = _array(state, f"{prefix}.weight")
    weight = weight.reshape(weight.shape[0], weight.shape[1])
    return {"kernel": np.ascontiguousarray(weight.T), "bias": _array(state, f"{prefix}.bias")}


def _double_conv(state: Mapping, prefix: str) -> tuple[dict, dict]:
    params, stats = {}, {}
    for j, (conv, norm) in enumerate(((0, 1), (3, 4)), start=1):
        params[f"conv{j}"] = {"kernel": _conv(_array(state, f"{prefix}.{conv}.weight"))}
        params[f"norm{j}"] = {
            "scale": _array(state, f"{prefix}.{norm}.weight"),
            "bias": _array(state, f"{prefix}.{norm}.bias"),
        }
        stats[f"norm{j}"] = {
            "mean": _array(state, f"{prefix}.{norm}.running_mean"),
            "var": _array(state, f"{prefix}.{norm}.running_var"),
        }
    return params, stats


def lsm_params_from_reference(state: Mapping) -> dict:
    """Map a reference ``LSM_2D.Model`` / ``LSM_3D.Model`` state dict onto opjax ``LSM``.

    ``state`` maps names to arrays or torch tensors. Returns
    ``{"params": ..., "batch_stats": ...}`` for ``LSM(...).apply``; the number of levels is
    read from the ``process{i}`` entries (the reference has 5).

    Raises:
        KeyError: naming the first missing tensor.
    """
    n_levels = max(int(m.group(1)) for k in state if (m := re.match(r"process(\d+)\.", k)))
    params: dict = {}
    stats: dict = {}
    params["inc"], stats["inc"] = _double_conv(state, "inc.double_conv")
    for i in range(1, n_levels):
        p, s = _double_conv(state, f"down{i}.maxpool_conv.1.double_conv")
        params[f"down{i}"], stats[f"down{i}"] = {"conv": p}, {"conv": s}
        p, s = _double_conv(state, f"up{i}.conv.double_conv")
        params[f"up{i}"], stats[f"up{i}"] = {"conv": p}, {"conv": s}
    for i in range(1, n_levels + 1):
        prefix = f"process{i}"
        params[prefix] = {
            "weights": _array(state, f"{prefix}.weights"),
            "latent": _array(state, f"{prefix}.latent"),
            "encoder_attn": _pointwise(state, f"{prefix}.encoder_attn"),
            "decoder_attn": _pointwise(state, f"{prefix}.decoder_attn"),
        }
    params["outc"] = _pointwise(state, "outc.conv")
    for name in ("fc0", "fc1", "fc2"):
        params[name] = _pointwise(state, name)
    return {"params": params, "batch_stats": stats}
