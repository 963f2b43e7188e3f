"""pdearena U-Net weights -> opjax :class:`~opjax.models.unet.UNet` parameters.

Covers pdearena's modern U-Nets: the conditioned ``pdearena.modules.conditioned.oned_unet.Unet``
(1D or 2D; the PDE-Refiner backbone), the conditioned 2D ``twod_unet.Unet`` (one scalar
parameter: ``pde_emb`` as a single MLP) and the unconditioned ``pdearena.modules.twod_unet.Unet``.
The module tree is the same up to names: ``down.{j}`` / ``up.{j}`` become ``down_{j}`` /
``up_{j}``, ``pde_emb.{j}`` becomes ``param_embed_{j}``, the ``Sequential`` MLPs' layers ``0``
and ``2`` become ``fc0`` and ``fc1``.

Layouts: PyTorch is channels-first. Convolutions ``[out, in, *k]`` become ``[*k, in, out]``,
transposed convolutions ``[in, out, *k]`` become ``[*k, in, out]`` (same orientation, see
:class:`~opjax.models.layers.unet_layers.Upsample`), linear weights ``[out, in]`` become
``[in, out]``, GroupNorm ``weight`` becomes ``scale``. The GroupNorm that pdearena's
``AttentionBlock`` builds but never applies is dropped.

The matching hyperparameters (pdearena -> opjax): ``hidden_channels``, ``ch_mults``,
``is_attn``, ``mid_attn``, ``n_blocks``, ``norm``, ``use_scale_shift_norm``, ``use1x1`` and
``activation`` carry over; ``in_channels = time_history * (n_input_scalar_components + 2
n_input_vector_components)`` (pdearena flattens ``[time, channel]`` time-major), likewise
``out_channels`` with ``time_future``; ``param_conditioning="scalar_N"`` is
``n_condition_params=N``; the padding mode is the one the training module patched into the
convolutions (``padding_mode`` of ``PDERefiner``; ``"zeros"`` by default) with
``periodic_upsample=False``. The unconditioned ``twod_unet.Unet`` is
``time_conditioning=False, zero_init_output=False, zero_init_residual=False``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

_RENAMES = (
    (r"^down\.(\d+)\.", r"down_\1."),
    (r"^up\.(\d+)\.", r"up_\1."),
    (r"^pde_emb\.(\d+)\.([02])\.", r"param_embed_\1.\2."),
    (r"^pde_emb\.([02])\.", r"param_embed_0.\1."),
    (r"^(time_embed|param_embed_\d+)\.0\.", r"\1.fc0."),
    (r"^(time_embed|param_embed_\d+)\.2\.", r"\1.fc1."),
)


def _is_norm(module: str) -> bool:
    return re.fullmatch(r"norm\d*", module) is not None


def _convert(path: list[str], leaf: str, value: np.ndarray) -> tuple[str, np.ndarray]:
    module = path[-1]
    if _is_norm(module):
        return ("scale" if leaf == "weight" else "bias"), value
    if leaf == "bias":
        return "bias", value
    if value.ndim == 2:  # Linear [out, in]
        return "kernel", value.T
    rank = value.ndim - 2
    space = tuple(range(2, 2 + rank))
    if path[0].startswith("up_") and module == "conv":  # ConvTranspose [in, out, *k]
        return "kernel", np.transpose(value, (*space, 0, 1))
    return "kernel", np.transpose(value, (*space, 1, 0))  # Conv [out, in, *k]


def unet_params_from_pdearena(state: Mapping[str, np.ndarray]) -> dict:
    """Map a pdearena ``Unet`` state dict (name -> array) onto opjax ``UNet`` params.

    Returns ``{"params": ...}`` for a :class:`~opjax.models.unet.UNet` built with the
    matching hyperparameters (see the module docstring).

    Raises:
        KeyError: naming a tensor this converter does not recognise.
    """
    params: dict = {}
    for key, value in state.items():
        value = np.asarray(value, dtype=np.float32)
        name = key
        for pattern, replacement in _RENAMES:
            name = re.sub(pattern, replacement, name)
        *path, leaf = name.split(".")
        if leaf not in ("weight", "bias") or not path:
            raise KeyError(f"unrecognised pdearena U-Net tensor {key!r}")
        if path[-2:-1] == ["attn"] and path[-1] == "norm":
            continue  # built by pdearena's AttentionBlock, never applied
        leaf, value = _convert(path, leaf, value)
        node = params
        for part in path:
            node = node.setdefault(part, {})
        if leaf in node:
            raise KeyError(f"pdearena tensor {key!r} maps onto {'/'.join(path)}/{leaf} twice")
        node[leaf] = value
    return {"params": params}
