"""Poseidon (scOT) checkpoints from the Hugging Face Hub -> opjax ``ScOT`` models.

A checkpoint folder as downloaded (e.g. ``camlab-ethz/Poseidon-T``) holds ``config.json``
(Poseidon's ``ScOTConfig``) and the weights as ``model.safetensors`` (read with the
``safetensors`` numpy API) or ``pytorch_model.bin`` (a ``torch.save`` archive, read by
:func:`~opjax.data.formats.torch_archive.load_torch_archive` without running pickled
code), or sharded versions of either with their ``*.index.json``.

Names: a PyTorch tensor ``a.b.3.c.weight`` is the opjax parameter ``a/b_3/c/kernel`` (list
entries ``name.k`` become ``name_k``; see :mod:`opjax.models.scot`). Layouts: linear
weights ``[out, in]`` -> ``[in, out]``; convolutions ``[out, in, kh, kw]`` ->
``[kh, kw, in, out]``; the transposed convolution of ``patch_recovery.projection``
``[in, out, p, p]`` -> ``[p, p, in, out]``; ``logit_scale`` ``[heads, 1, 1]`` ->
``[heads]``; a plain LayerNorm's ``weight`` -> ``scale`` and the ConvNeXt layer scale
``weight`` -> ``layer_scale``. The attention's ``relative_coords_table`` and
``relative_position_index`` are fixed tables the model recomputes; if a checkpoint
carries them they are not read.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from safetensors.numpy import load_file

from opjax.convert.converted_run import ensure_free, write_converted_run
from opjax.data.errors import DataFormatError
from opjax.data.formats.torch_archive import load_torch_archive
from opjax.models.registry import build_model

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
SAFETENSORS_FILE = "model.safetensors"
TORCH_FILE = "pytorch_model.bin"
#: Poseidon's ``ScOTConfig`` defaults, for keys a ``config.json`` leaves out.
SCOT_CONFIG_DEFAULTS: dict[str, Any] = {
    "image_size": 224,
    "patch_size": 4,
    "num_channels": 3,
    "num_out_channels": 1,
    "embed_dim": 96,
    "depths": [2, 2, 6, 2],
    "num_heads": [3, 6, 12, 24],
    "skip_connections": [True, True, True],
    "window_size": 7,
    "mlp_ratio": 4.0,
    "qkv_bias": True,
    "hidden_act": "gelu",
    "use_absolute_embeddings": False,
    "layer_norm_eps": 1e-5,
    "residual_model": "convnext",
    "use_conditioning": False,
    "learn_residual": False,
}
_RECOMPUTED_BUFFERS = ("relative_coords_table", "relative_position_index")
_LIST_MODULE = re.compile(
    r"^(layers|blocks|residual_blocks|continuous_position_bias_mlp)((?:_\d+)+)$"
)


class PoseidonCheckpoint(NamedTuple):
    """A Hugging Face scOT folder as read from disk."""

    folder: Path
    config: dict
    weights: tuple[Path, ...]
    state: dict[str, np.ndarray]


# ---------------------------------------------------------------------------------------
# Reading the folder
# ---------------------------------------------------------------------------------------


def _json_object(path: Path) -> dict:
    """The JSON object in ``path``, or a :class:`DataFormatError` naming the file."""
    try:
        value = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise DataFormatError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(value, dict):
        raise DataFormatError(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value


def _weight_files(folder: Path) -> tuple[Path, ...]:
    """The weight files, safetensors preferred: the single file or an index's shards."""
    for single in (SAFETENSORS_FILE, TORCH_FILE):
        if (folder / single).is_file():
            return (folder / single,)
        index = folder / f"{single}.index.json"
        if index.is_file():
            weight_map = _json_object(index).get("weight_map")
            if not isinstance(weight_map, dict):
                raise DataFormatError(f"{index}: no 'weight_map' object")
            shards = sorted(set(weight_map.values()))
            return tuple(folder / s for s in shards)
    raise FileNotFoundError(
        f"{folder} holds no {SAFETENSORS_FILE} or {TORCH_FILE} (nor a sharded index of either)"
    )


def _load_weights(path: Path) -> dict[str, np.ndarray]:
    if path.name.endswith(".safetensors"):
        try:
            state = load_file(str(path))
        except Exception as err:  # safetensors raises its own error types
            raise DataFormatError(f"{path}: not a readable safetensors file ({err})") from err
    else:
        state = load_torch_archive(path)
    if not isinstance(state, Mapping):
        raise DataFormatError(f"{path}: expected a state dict, got {type(state).__name__}")
    for key, value in state.items():
        if not isinstance(value, np.ndarray):
            raise DataFormatError(f"{path}: entry {key!r} is not a tensor")
    return dict(state)


def read_poseidon(hf_dir: str | os.PathLike) -> PoseidonCheckpoint:
    """Read ``config.json`` and the weights of a Hugging Face scOT folder.

    Raises:
        FileNotFoundError: no folder, no ``config.json`` or no weights.
        DataFormatError: a corrupt weight file (or a pickle naming an unsafe global).
    """
    folder = Path(hf_dir)
    if not (folder / CONFIG_FILE).is_file():
        raise FileNotFoundError(f"{folder}: no {CONFIG_FILE} (expected a Hugging Face folder)")
    config = _json_object(folder / CONFIG_FILE)
    weights = _weight_files(folder)
    state: dict[str, np.ndarray] = {}
    for path in weights:
        state.update(_load_weights(path))
    return PoseidonCheckpoint(folder, config, weights, state)


# ---------------------------------------------------------------------------------------
# config.json -> hyperparameters
# ---------------------------------------------------------------------------------------


def scot_hparams_from_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """opjax ``ScOT`` hyperparameters equivalent to a Poseidon ``config.json``.

    Dropout and drop-path rates are ignored (they do nothing at inference).

    Raises:
        ValueError: naming the first setting opjax cannot reproduce.
    """
    cfg = {**SCOT_CONFIG_DEFAULTS, **config}
    for key in ("image_size", "patch_size", "window_size"):
        if not isinstance(cfg[key], int):
            raise ValueError(f"Poseidon {key}={cfg[key]!r} is not supported; expected an integer")
    if cfg["hidden_act"] != "gelu":
        raise ValueError(
            f"Poseidon hidden_act={cfg['hidden_act']!r} is not supported; expected 'gelu'"
        )
    if cfg["use_absolute_embeddings"]:
        raise ValueError("Poseidon use_absolute_embeddings=true is not supported")
    if cfg["residual_model"] != "convnext":
        raise ValueError(
            f"Poseidon residual_model={cfg['residual_model']!r} is not supported; "
            "expected 'convnext'"
        )
    if any(cfg.get("pretrained_window_sizes") or ()):
        raise ValueError(
            f"Poseidon pretrained_window_sizes={cfg['pretrained_window_sizes']} is not "
            "supported; expected zeros"
        )
    conditioned = bool(cfg["use_conditioning"])
    return {
        "in_channels": int(cfg["num_channels"]),
        "out_channels": int(cfg["num_out_channels"]),
        "image_size": cfg["image_size"],
        "patch_size": cfg["patch_size"],
        "embed_dim": int(cfg["embed_dim"]),
        "depths": tuple(int(d) for d in cfg["depths"]),
        "num_heads": tuple(int(h) for h in cfg["num_heads"]),
        "skip_connections": tuple(int(s) for s in cfg["skip_connections"]),
        "window_size": cfg["window_size"],
        "mlp_ratio": float(cfg["mlp_ratio"]),
        "qkv_bias": bool(cfg["qkv_bias"]),
        "use_conditioning": conditioned,
        "residual_model": "convnext",
        "layer_norm_eps": float(cfg["layer_norm_eps"]),
        "learn_residual": bool(cfg["learn_residual"]) and conditioned,
    }


# ---------------------------------------------------------------------------------------
# State dict -> parameters
# ---------------------------------------------------------------------------------------


def _torch_name(path: tuple[str, ...]) -> str:
    """opjax parameter path -> PyTorch tensor name (``layers_0`` -> ``layers.0``, ...)."""
    parts = []
    for part in path[:-1]:
        match = _LIST_MODULE.match(part)
        parts.append(match.group(1) + match.group(2).replace("_", ".") if match else part)
    leaf = path[-1]
    parts.append({"kernel": "weight", "scale": "weight", "layer_scale": "weight"}.get(leaf, leaf))
    return ".".join(parts)


def _layout(path: tuple[str, ...], shape: tuple[int, ...]):
    """``(PyTorch shape, function PyTorch array -> opjax array)`` of one parameter."""
    if path[-1] == "kernel" and len(shape) == 2:
        return (shape[1], shape[0]), lambda a: a.T
    if path[-1] == "kernel" and len(shape) == 4:
        if path[0] == "patch_recovery" and path[-2] == "projection":  # ConvTranspose2d
            return (shape[2], shape[3], shape[0], shape[1]), lambda a: a.transpose(2, 3, 0, 1)
        return (shape[3], shape[2], shape[0], shape[1]), lambda a: a.transpose(2, 3, 1, 0)
    if path[-1] == "logit_scale":
        return (shape[0], 1, 1), lambda a: a.reshape(shape)
    return tuple(shape), lambda a: a


def _template(model) -> dict[tuple[str, ...], tuple[int, ...]]:
    x = jnp.zeros((1, model.image_size, model.image_size, model.in_channels))
    variables = jax.eval_shape(model.init, jax.random.PRNGKey(0), x, jnp.zeros((1,)))
    return {
        tuple(p.key for p in path): tuple(leaf.shape)
        for path, leaf in jax.tree_util.tree_flatten_with_path(variables["params"])[0]
    }


def _nest(flat: Mapping[tuple[str, ...], np.ndarray]) -> dict:
    tree: dict = {}
    for path, value in flat.items():
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return tree


def scot_params_from_state(
    state: Mapping[str, np.ndarray], model, source: str = "Poseidon state dict"
) -> dict:
    """Map a Poseidon ``ScOT`` state dict (name -> array) onto ``model``'s parameters.

    Returns ``{"params": ...}`` (float32 numpy arrays) for ``model.apply``.

    Raises:
        ValueError: listing every missing, unexpected and mis-shaped tensor by name.
    """
    expected = {}
    for path, shape in _template(model).items():
        torch_shape, convert = _layout(path, shape)
        expected[_torch_name(path)] = (path, torch_shape, convert)
    given = {k: v for k, v in state.items() if not k.endswith(_RECOMPUTED_BUFFERS)}
    missing = sorted(k for k in expected if k not in given)
    unexpected = sorted(k for k in given if k not in expected)
    misshaped = sorted(
        f"{k} {tuple(np.shape(given[k]))} (expected {expected[k][1]})"
        for k in expected
        if k in given and tuple(np.shape(given[k])) != expected[k][1]
    )
    if missing or unexpected or misshaped:
        lines = [f"{source} does not match the ScOT its config describes:"]
        for title, names in (
            ("missing tensors", missing),
            ("unexpected tensors", unexpected),
            ("mis-shaped tensors", misshaped),
        ):
            if names:
                lines.append(f"  {title} ({len(names)}):")
                lines.extend(f"    {name}" for name in names)
        raise ValueError("\n".join(lines))
    flat = {
        path: np.ascontiguousarray(convert(np.asarray(given[k], np.float32)))
        for k, (path, _, convert) in expected.items()
    }
    return {"params": _nest(flat)}


def model_from_checkpoint(checkpoint: PoseidonCheckpoint):
    """``(model, params)`` from a folder read by :func:`read_poseidon`."""
    model = build_model("scot", scot_hparams_from_config(checkpoint.config))
    source = ", ".join(str(p) for p in checkpoint.weights)
    return model, scot_params_from_state(checkpoint.state, model, source)


def from_poseidon(hf_dir: str | os.PathLike):
    """Load a Poseidon scOT checkpoint folder as an opjax ``(model, params)``.

    Args:
        hf_dir: a Hugging Face folder as downloaded (``config.json`` plus
            ``model.safetensors`` or ``pytorch_model.bin``).

    Returns:
        ``(model, params)``: an :class:`~opjax.models.scot.ScOT` and ``{"params": ...}``
        with ``model.apply(params, x, t)`` for ``x [batch, n, n, in_channels]`` and lead
        times ``t [batch]`` reproducing the reference's outputs (transposed to
        channels-last).

    Raises:
        FileNotFoundError: no config or weights there.
        DataFormatError: a corrupt weight file or an unsafe pickle.
        ValueError: a config setting opjax cannot reproduce (named), or tensors that do
            not match the config (every one named).
    """
    return model_from_checkpoint(read_poseidon(hf_dir))


def convert_poseidon_cli(hf_dir: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """``opjax convert poseidon HF_DIR OUT``: write a run directory.

    ``OUT`` gets ``model.json`` (model ``"scot"``, its hyperparameters, identity
    normalisers, the source folder) and ``checkpoints/{latest,best}`` holding the converted
    parameters (there is no ``config.toml``: no recipe produced it). Poseidon's inputs are
    normalised with dataset constants; the identity normalisers leave that to the user.

    Raises:
        FileExistsError: ``OUT`` already holds a model card or checkpoints.
    """
    out = ensure_free(out_dir)
    checkpoint = read_poseidon(hf_dir)
    model, params = model_from_checkpoint(checkpoint)
    side = model.image_size
    sample_shapes = {"x": [side, side, model.in_channels], "y": [side, side, model.out_channels]}
    if model.use_conditioning:
        sample_shapes["t"] = []  # one lead time per sample
    source = {
        "poseidon": {
            "folder": str(checkpoint.folder.resolve()),
            "weights": [p.name for p in checkpoint.weights],
            "architectures": checkpoint.config.get("architectures"),
            "transformers_version": checkpoint.config.get("transformers_version"),
        }
    }
    return write_converted_run(out, "scot", model, params, sample_shapes, source)
