"""neuraloperator FNO weights -> opjax FNO parameters.

neuraloperator stores fields channels-first and its pointwise layers as ``Conv1d`` weights
``[out, in, 1]``; opjax is channels-last with kernels ``[in, out]``. Dense spectral weights
``fno_blocks.convs.{i}.weight.tensor`` are complex ``[in, out, *modes]`` with the kept
frequencies of every non-last axis centred (index ``j`` holds frequency ``j - m // 2``),
which is opjax's order too, so they only move their channel axes last.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np


def _pointwise(weight: np.ndarray) -> np.ndarray:
    """``Conv1d`` weight ``[out, in, 1]`` -> kernel ``[in, out]``."""
    return np.asarray(weight)[..., 0].T


def _mlp(state: Mapping[str, np.ndarray], prefix: str) -> dict:
    return {
        f"fc{j}": {
            "kernel": _pointwise(state[f"{prefix}.fcs.{j}.weight"]),
            "bias": np.asarray(state[f"{prefix}.fcs.{j}.bias"]),
        }
        for j in (0, 1)
    }


def fno_params_from_neuralop(state: Mapping[str, np.ndarray]) -> dict:
    """Map a neuraloperator ``FNO`` state dict (arrays) onto opjax ``FNO`` params.

    Supports the default FNO: dense spectral weights, linear FNO skips, channel MLPs with
    soft-gating skips, two-layer lifting and projection.

    Raises:
        KeyError: naming the first missing tensor.
    """
    n_layers = 1 + max(
        int(m.group(1)) for k in state if (m := re.match(r"fno_blocks\.convs\.(\d+)\.", k))
    )
    params: dict = {"lifting": _mlp(state, "lifting"), "projection": _mlp(state, "projection")}
    for i in range(n_layers):
        weight = np.asarray(state[f"fno_blocks.convs.{i}.weight.tensor"])
        rank = weight.ndim - 2
        weight = np.moveaxis(weight, (0, 1), (rank, rank + 1))
        params[f"spectral_conv_{i}"] = {
            "weight_re": weight.real.astype(np.float32),
            "weight_im": weight.imag.astype(np.float32),
            "bias": np.asarray(state[f"fno_blocks.convs.{i}.bias"]).reshape(-1),
        }
        params[f"fno_skip_{i}"] = {
            "kernel": _pointwise(state[f"fno_blocks.fno_skips.{i}.conv.weight"])
        }
        params[f"channel_mlp_{i}"] = _mlp(state, f"fno_blocks.channel_mlp.{i}")
        gate = np.asarray(state[f"fno_blocks.channel_mlp_skips.{i}.weight"]).reshape(-1)
        params[f"channel_mlp_skip_{i}"] = {"weight": gate}
    return {"params": params}
