"""neuraloperator FNO/TFNO checkpoints -> opjax ``FNO`` models and parameters.

The checkpoint (``save_checkpoint``'s ``{name}_state_dict.pt`` and ``{name}_metadata.pkl``)
is read without PyTorch and without running pickled code by
:mod:`opjax.data.formats.neuralop_checkpoint`; this module maps its constructor kwargs onto
opjax ``FNO`` hyperparameters and its state dict onto ``FNO`` parameters.

Layouts: neuraloperator is channels-first with pointwise ``Conv1d`` weights
``[out, in, 1]``; opjax is channels-last with kernels ``[in, out]``. Dense spectral
weights ``fno_blocks.convs.{i}.weight.tensor`` are complex ``[in, out, *modes]`` with the
kept frequencies of every non-last axis centred (index ``j`` holds frequency ``j - m // 2``),
which is opjax's order too, so they only move their channel axes last. Factorized weights
(``.weight.core``, ``.weight.weights``, ``.weight.factors.factor_{k}``) keep tensorly-torch's
parametrisation and mode order ``[in, out, *modes]`` unchanged, split into real and
imaginary parts.

Supported kwargs: everything neuraloperator 2.0.0's ``FNO`` takes, with these values:
``positional_embedding`` ``"grid"`` or ``None``; ``non_linearity`` GELU; ``norm`` ``None``,
``"group_norm"`` or ``"instance_norm"``; ``complex_data=False``; any
``channel_mlp_dropout`` (dropout is the identity at inference; opjax's FNO has none);
``resolution_scaling_factor`` ``None`` (or all ones); ``fno_block_precision="full"``;
``stabilizer`` ``None`` or ``"tanh"``; ``max_n_modes`` (the weights are cut to ``n_modes``
as neuraloperator does); ``factorization`` ``None``/``"dense"``/``"tucker"``/``"cp"``/
``"tt"`` with any ``rank`` and ``fixed_rank_modes``; ``implementation`` either (same
numbers); empty ``decomposition_kwargs``; ``separable``; ``preactivation``;
``conv_module=SpectralConv``. Anything else raises an error naming the kwarg and value.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from opjax.convert.converted_run import ensure_free, write_converted_run
from opjax.data.formats.neuralop_checkpoint import (
    GELU,
    SPECTRAL_CONV,
    NeuralopCheckpoint,
    read_checkpoint,
)
from opjax.models.fno import FNO
from opjax.models.layers.factorized_weights import canonical_factorization

logger = logging.getLogger(__name__)

SUPPORTED_CLASSES = ("FNO", "TFNO")


# ---------------------------------------------------------------------------------------
# Constructor kwargs -> opjax hyperparameters
# ---------------------------------------------------------------------------------------

_REQUIRED = object()
#: neuraloperator 2.0.0 ``FNO.__init__``: parameters in order, with their defaults.
FNO_SIGNATURE: dict[str, Any] = {
    "n_modes": _REQUIRED,
    "in_channels": _REQUIRED,
    "out_channels": _REQUIRED,
    "hidden_channels": _REQUIRED,
    "n_layers": 4,
    "lifting_channel_ratio": 2,
    "projection_channel_ratio": 2,
    "positional_embedding": "grid",
    "non_linearity": GELU[0],
    "norm": None,
    "complex_data": False,
    "use_channel_mlp": True,
    "channel_mlp_dropout": 0,
    "channel_mlp_expansion": 0.5,
    "channel_mlp_skip": "soft-gating",
    "fno_skip": "linear",
    "resolution_scaling_factor": None,
    "domain_padding": None,
    "fno_block_precision": "full",
    "stabilizer": None,
    "max_n_modes": None,
    "factorization": None,
    "rank": 1.0,
    "fixed_rank_modes": False,
    "implementation": "factorized",
    "decomposition_kwargs": None,
    "separable": False,
    "preactivation": False,
    "conv_module": SPECTRAL_CONV,
}
_CLASS_DEFAULTS = {"FNO": {}, "TFNO": {"factorization": "Tucker", "rank": 0.1}}
_META_KEYS = ("_name", "_version", "args")


def _unsupported(key: str, value, expected: str) -> ValueError:
    return ValueError(f"neuraloperator kwarg {key}={value!r} is not supported; expected {expected}")


def neuralop_kwargs(metadata: Mapping) -> tuple[str, dict]:
    """The class name and the full constructor kwargs (positional ``args`` and the class
    defaults filled in) of a checkpoint's metadata."""
    cls = metadata.get("_name", "FNO")
    if cls not in SUPPORTED_CLASSES:
        raise ValueError(
            f"neuraloperator model class {cls!r} is not supported; expected one of "
            f"{SUPPORTED_CLASSES}"
        )
    unknown = sorted(k for k in metadata if k not in FNO_SIGNATURE and k not in _META_KEYS)
    if unknown:
        raise ValueError(f"neuraloperator {cls} kwargs {unknown} are not supported by opjax")
    kwargs = {k: v for k, v in metadata.items() if k not in _META_KEYS}
    args = tuple(metadata.get("args") or ())
    if len(args) > len(FNO_SIGNATURE):
        raise ValueError(f"{len(args)} positional args for neuraloperator {cls}; too many")
    for key, value in zip(FNO_SIGNATURE, args):
        if key in kwargs:
            raise ValueError(f"neuraloperator {cls}: {key!r} given both by position and name")
        kwargs[key] = value
    for key, default in {**FNO_SIGNATURE, **_CLASS_DEFAULTS[cls]}.items():
        kwargs.setdefault(key, default)
    missing = [k for k, v in kwargs.items() if v is _REQUIRED]
    if missing:
        raise ValueError(f"neuraloperator {cls} metadata lacks the required kwargs {missing}")
    return cls, kwargs


def _skip_type(key: str, value) -> str:
    kind = "none" if value is None else str(value).lower()
    if kind not in ("linear", "soft-gating", "identity", "none"):
        raise _unsupported(key, value, "'linear', 'soft-gating', 'identity' or None")
    return kind


def _ints(key: str, value) -> tuple[int, ...]:
    values = (value,) if isinstance(value, (int, np.integer)) else tuple(value)
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        raise _unsupported(key, value, "integers")
    return tuple(int(v) for v in values)


def fno_hparams_from_neuralop(kwargs: Mapping) -> dict:
    """opjax ``FNO`` hyperparameters equivalent to neuraloperator ``FNO`` kwargs.

    Raises:
        ValueError: naming the first kwarg whose value opjax cannot reproduce.
    """
    kw = dict(kwargs)
    n_modes = _ints("n_modes", kw["n_modes"])
    hp: dict[str, Any] = {
        "n_modes": n_modes,
        "in_channels": int(kw["in_channels"]),
        "out_channels": int(kw["out_channels"]),
        "hidden_channels": int(kw["hidden_channels"]),
        "n_layers": int(kw["n_layers"]),
        "lifting_channel_ratio": float(kw["lifting_channel_ratio"]),
        "projection_channel_ratio": float(kw["projection_channel_ratio"]),
        "use_channel_mlp": bool(kw["use_channel_mlp"]),
        "channel_mlp_expansion": float(kw["channel_mlp_expansion"]),
        "channel_mlp_skip": _skip_type("channel_mlp_skip", kw["channel_mlp_skip"]),
        "fno_skip": _skip_type("fno_skip", kw["fno_skip"]),
        "separable": bool(kw["separable"]),
        "preactivation": bool(kw["preactivation"]),
        "fixed_rank_modes": bool(kw["fixed_rank_modes"]),
    }
    embedding = kw["positional_embedding"]
    if embedding not in ("grid", None):
        raise _unsupported("positional_embedding", embedding, "'grid' or None")
    hp["grid_embedding"] = embedding == "grid"
    if kw["non_linearity"] not in GELU:
        raise _unsupported(
            "non_linearity", str(kw["non_linearity"]), "GELU (torch.nn.functional.gelu)"
        )
    if kw["norm"] not in (None, "group_norm", "instance_norm"):
        raise _unsupported("norm", kw["norm"], "None, 'group_norm' or 'instance_norm'")
    hp["norm"] = kw["norm"]
    if kw["complex_data"]:
        raise _unsupported("complex_data", kw["complex_data"], "False (real-valued fields)")
    dropout = kw["channel_mlp_dropout"]
    if dropout:
        logger.warning(
            "neuraloperator channel_mlp_dropout=%s is dropped: it is the identity at "
            "inference, and opjax's FNO trains without dropout",
            dropout,
        )
    scaling = kw["resolution_scaling_factor"]
    if scaling is not None and any(float(s) != 1.0 for s in np.ravel(np.asarray(scaling))):
        raise _unsupported("resolution_scaling_factor", scaling, "None")
    padding = kw["domain_padding"]
    if padding is None:
        hp["domain_padding"] = 0.0
    elif isinstance(padding, (int, float)):
        hp["domain_padding"] = float(padding)
    else:
        hp["domain_padding"] = tuple(float(p) for p in padding)
        if len(hp["domain_padding"]) != len(n_modes):
            raise _unsupported("domain_padding", padding, f"one value or {len(n_modes)}")
    if kw["fno_block_precision"] != "full":
        raise _unsupported("fno_block_precision", kw["fno_block_precision"], "'full'")
    if kw["stabilizer"] not in (None, "tanh"):
        raise _unsupported("stabilizer", kw["stabilizer"], "None or 'tanh'")
    hp["stabilizer"] = kw["stabilizer"]
    if kw["max_n_modes"] is not None:
        max_n_modes = _ints("max_n_modes", kw["max_n_modes"])
        if len(max_n_modes) != len(n_modes) or any(m < n for m, n in zip(max_n_modes, n_modes)):
            raise _unsupported("max_n_modes", kw["max_n_modes"], f"None or >= n_modes {n_modes}")
    try:
        factorization = canonical_factorization(kw["factorization"])
    except ValueError:
        raise _unsupported(
            "factorization", kw["factorization"], "None, 'dense', 'tucker', 'cp' or 'tt'"
        ) from None
    hp["factorization"] = None if factorization == "dense" else factorization
    rank = kw["rank"]
    if isinstance(rank, bool) or not isinstance(rank, (int, float, tuple, list)):
        raise _unsupported("rank", rank, "a float or integers")
    hp["rank"] = tuple(int(r) for r in rank) if isinstance(rank, (tuple, list)) else rank
    if kw["implementation"] not in ("factorized", "reconstructed"):
        raise _unsupported("implementation", kw["implementation"], "'factorized'/'reconstructed'")
    if kw["decomposition_kwargs"]:
        raise _unsupported("decomposition_kwargs", kw["decomposition_kwargs"], "None or {}")
    if kw["conv_module"] != SPECTRAL_CONV:
        raise _unsupported("conv_module", str(kw["conv_module"]), str(SPECTRAL_CONV))
    return hp


# ---------------------------------------------------------------------------------------
# State dict -> parameters
# ---------------------------------------------------------------------------------------


class _State:
    """State-dict access that names missing tensors and remembers which were used."""

    def __init__(self, state: Mapping[str, Any]):
        self.state = {k: v for k, v in state.items() if k != "_metadata"}
        self.used: set[str] = set()
        self.origin: dict[tuple[str, ...], str] = {}

    def __call__(self, key: str, path: tuple[str, ...] | None = None) -> np.ndarray:
        if key not in self.state:
            raise KeyError(f"neuraloperator tensor {key!r} is missing from the state dict")
        self.used.add(key)
        if path is not None:
            self.origin[path] = key
        return np.asarray(self.state[key])


def _pointwise(weight: np.ndarray) -> np.ndarray:
    """``Conv1d`` weight ``[out, in, 1]`` -> kernel ``[in, out]``."""
    return np.asarray(weight)[..., 0].T


def _real(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)


def _linear(state: _State, prefix: str, path: tuple[str, ...]) -> dict:
    return {
        "kernel": _pointwise(state(f"{prefix}.weight", (*path, "kernel"))),
        "bias": state(f"{prefix}.bias", (*path, "bias")),
    }


def _mlp(state: _State, prefix: str, path: tuple[str, ...]) -> dict:
    return {f"fc{j}": _linear(state, f"{prefix}.fcs.{j}", (*path, f"fc{j}")) for j in (0, 1)}


def _skip(state: _State, kind: str, prefix: str, name: str) -> dict:
    if kind == "linear":
        return {name: {"kernel": _pointwise(state(f"{prefix}.conv.weight", (name, "kernel")))}}
    if kind == "soft-gating":
        return {name: {"weight": state(f"{prefix}.weight", (name, "weight")).reshape(-1)}}
    return {}


def _mode_slices(sizes, n_modes) -> tuple[slice, ...]:
    """neuraloperator's cut of weights held for ``max_n_modes`` down to ``n_modes``."""
    slices = []
    for a, (size, m) in enumerate(zip(sizes, n_modes)):
        kept = m // 2 + 1 if a == len(n_modes) - 1 else m
        start = size - kept
        if start < 0:
            raise ValueError(f"spectral weight with {size} modes on axis {a}; n_modes needs {kept}")
        if a == len(n_modes) - 1:
            slices.append(slice(0, kept))
        else:
            slices.append(slice(start // 2, size - (start + 1) // 2))
    return tuple(slices)


def _complex_parts(name: str, value: np.ndarray) -> dict:
    value = np.asarray(value)
    return {f"{name}_re": _real(value.real), f"{name}_im": _real(np.imag(value))}


def _spectral_weight(state: _State, hp: Mapping, i: int, cut: bool) -> tuple[dict, Any]:
    """Params of ``spectral_conv_{i}`` and the factorization's ranks as stored."""
    prefix = f"fno_blocks.convs.{i}.weight"
    path = (f"spectral_conv_{i}",)
    n_modes = hp["n_modes"]
    d = len(n_modes)
    n_channel_axes = 1 if hp.get("separable") else 2
    factorization = canonical_factorization(hp.get("factorization"))
    if factorization == "dense":
        w = state(f"{prefix}.tensor", (*path, "weight_re"))
        state.origin[(*path, "weight_im")] = f"{prefix}.tensor"
        if cut:
            w = w[(slice(None),) * n_channel_axes + _mode_slices(w.shape[n_channel_axes:], n_modes)]
        w = np.moveaxis(w, tuple(range(n_channel_axes)), tuple(range(d, d + n_channel_axes)))
        return _complex_parts("weight", w), None
    order = n_channel_axes + d
    parts = {}
    if factorization == "tucker":
        parts["core"] = state(f"{prefix}.core", (*path, "core_re"))
    elif factorization == "cp":
        parts["weights"] = state(f"{prefix}.weights", (*path, "weights_re"))
    for k in range(order):
        key = f"{prefix}.factors.factor_{k}"
        parts[f"factor_{k}"] = state(key, (*path, f"factor_{k}_re"))
    for name in parts:
        key = {"core": f"{prefix}.core", "weights": f"{prefix}.weights"}.get(
            name, f"{prefix}.factors.{name}"
        )
        state.origin[(*path, f"{name}_im")] = key
    if cut:
        sizes = [
            parts[f"factor_{k}"].shape[1 if factorization == "tt" else 0]
            for k in range(n_channel_axes, order)
        ]
        for k, s in zip(range(n_channel_axes, order), _mode_slices(sizes, n_modes)):
            f = parts[f"factor_{k}"]
            parts[f"factor_{k}"] = f[:, s] if factorization == "tt" else f[s]
    if factorization == "tucker":
        ranks = tuple(int(r) for r in parts["core"].shape)
    elif factorization == "cp":
        ranks = int(parts["weights"].shape[0])
    else:
        ranks = (*(int(parts[f"factor_{k}"].shape[0]) for k in range(order)), 1)
    out = {}
    for name, value in parts.items():
        out.update(_complex_parts(name, value))
    return out, ranks


def _default_hparams(state: Mapping) -> dict:
    """neuraloperator's default FNO, with ``n_layers`` read from the tensors."""
    n_layers = 1 + max(
        int(m.group(1)) for k in state if (m := re.match(r"fno_blocks\.convs\.(\d+)\.", k))
    )
    return {
        "n_layers": n_layers,
        "lifting_channel_ratio": 2.0,
        "use_channel_mlp": True,
        "channel_mlp_skip": "soft-gating",
        "fno_skip": "linear",
        "norm": None,
    }


def _map_state(state: _State, hp: Mapping, max_n_modes: bool = False) -> tuple[dict, Any]:
    params: dict = {}
    hidden = hp.get("hidden_channels")
    if hidden is None or int(hp["lifting_channel_ratio"] * hidden):
        params["lifting"] = _mlp(state, "lifting", ("lifting",))
    else:
        params["lifting"] = _linear(state, "lifting.fcs.0", ("lifting",))
    params["projection"] = _mlp(state, "projection", ("projection",))
    ranks = None
    for i in range(hp["n_layers"]):
        if "n_modes" in hp:
            weights, ranks = _spectral_weight(state, hp, i, max_n_modes)
        else:  # legacy call: a dense weight, n_modes read from it
            w = state(f"fno_blocks.convs.{i}.weight.tensor", (f"spectral_conv_{i}", "weight_re"))
            weights = _complex_parts("weight", np.moveaxis(w, (0, 1), (-2, -1)))
        bias = state(f"fno_blocks.convs.{i}.bias", (f"spectral_conv_{i}", "bias")).reshape(-1)
        params[f"spectral_conv_{i}"] = {**weights, "bias": bias}
        params.update(_skip(state, hp["fno_skip"], f"fno_blocks.fno_skips.{i}", f"fno_skip_{i}"))
        if hp["use_channel_mlp"]:
            params[f"channel_mlp_{i}"] = _mlp(
                state, f"fno_blocks.channel_mlp.{i}", (f"channel_mlp_{i}",)
            )
            params.update(
                _skip(
                    state,
                    hp["channel_mlp_skip"],
                    f"fno_blocks.channel_mlp_skips.{i}",
                    f"channel_mlp_skip_{i}",
                )
            )
    if hp.get("norm") == "group_norm":
        for j in range(2 * hp["n_layers"]):
            params[f"norm_{j}"] = {
                p: state(f"fno_blocks.norm.{j}.{p}", (f"norm_{j}", p)) for p in ("weight", "bias")
            }
    unused = sorted(set(state.state) - state.used)
    if unused:
        raise ValueError(
            f"neuraloperator tensors {unused} have no place in an opjax FNO with these "
            "hyperparameters (is the metadata from another model?)"
        )
    params = _cast(params)
    return {"params": params}, ranks


def _cast(tree):
    if isinstance(tree, dict):
        return {k: _cast(v) for k, v in tree.items()}
    return _real(tree)


def fno_params_from_neuralop(state: Mapping[str, np.ndarray], hparams: Mapping | None = None):
    """Map a neuraloperator ``FNO`` state dict (arrays) onto opjax ``FNO`` params.

    Args:
        state: tensor name -> array (``_metadata`` is ignored).
        hparams: the opjax FNO hyperparameters the checkpoint was converted to (see
            :func:`fno_hparams_from_neuralop`); ``None`` means neuraloperator's default
            dense FNO with ``n_layers`` read from the tensors.

    Raises:
        KeyError: naming the first missing tensor.
        ValueError: naming tensors that the hyperparameters leave unused.
    """
    hp = _default_hparams(state) if hparams is None else dict(hparams)
    params, _ = _map_state(_State(state), hp)
    return params


def _check_shapes(model, params: dict, origin: Mapping[tuple[str, ...], str], source: str):
    """Compare converted params with the shapes ``model`` initialises; name any mismatch."""
    grid = tuple(max(2 * m, 4) for m in model.n_modes)
    template = jax.eval_shape(
        model.init, jax.random.PRNGKey(0), jnp.zeros((1, *grid, model.in_channels))
    )
    expected = {
        tuple(p.key for p in path): leaf.shape
        for path, leaf in jax.tree_util.tree_flatten_with_path(template["params"])[0]
    }
    got = {
        tuple(p.key for p in path): leaf.shape
        for path, leaf in jax.tree_util.tree_flatten_with_path(params["params"])[0]
    }
    for path, shape in got.items():
        name = "/".join(path)
        tensor = origin.get(path, "?")
        if path not in expected:
            raise ValueError(
                f"{source}: tensor {tensor!r} maps to opjax param {name}, which "
                "the FNO does not have"
            )
        if tuple(shape) != tuple(expected[path]):
            raise ValueError(
                f"{source}: tensor {tensor!r} gives opjax param {name} the shape {shape}; the "
                f"FNO with these hyperparameters expects {expected[path]}"
            )
    missing = sorted("/".join(p) for p in expected if p not in got)
    if missing:
        raise ValueError(f"{source}: no neuraloperator tensor for opjax params {missing}")


def model_from_checkpoint(checkpoint: NeuralopCheckpoint):
    """``(model, params)`` from a checkpoint read by :func:`read_checkpoint` (see
    :func:`from_neuralop`)."""
    _, kwargs = neuralop_kwargs(checkpoint.metadata)
    hp = fno_hparams_from_neuralop(kwargs)
    cut = kwargs["max_n_modes"] is not None
    state = _State(checkpoint.state)
    try:
        params, ranks = _map_state(state, hp, max_n_modes=cut)
    except (KeyError, ValueError) as err:
        message = err.args[0] if err.args else str(err)
        raise type(err)(f"{checkpoint.state_path}: {message}") from err
    if cut and ranks is not None:
        # The ranks were chosen for the larger max_n_modes weight: give them explicitly.
        hp["rank"] = ranks
    model = FNO(**hp)
    _check_shapes(model, params, state.origin, str(checkpoint.state_path))
    return model, params


def from_neuralop(path_or_dir: str | os.PathLike, name: str | None = None):
    """Load a neuraloperator ``FNO``/``TFNO`` checkpoint as an opjax ``(model, params)``.

    Args:
        path_or_dir: the folder given to ``save_checkpoint``, or either of its two files.
        name: the ``save_name``; needed only when the folder holds several checkpoints.

    Returns:
        ``(model, params)`` with ``model.apply(params, x)`` for channels-last ``x``
        reproducing the neuraloperator model's outputs (at even resolutions: 2.0.0
        mis-shifts the modes of odd ones).

    Raises:
        FileNotFoundError: no checkpoint there.
        UnsafePickleError: a pickle names a global outside the safe list (named).
        ValueError: a kwarg opjax cannot reproduce (named), or tensors that do not match
            the kwargs (named); KeyError for a missing tensor (named).
    """
    return model_from_checkpoint(read_checkpoint(path_or_dir, name))


def convert_neuralop_cli(
    ckpt_dir: str | os.PathLike, out_dir: str | os.PathLike, name: str | None = None
) -> Path:
    """``opjax convert neuralop CKPT_DIR OUT [--name NAME]``: write a run directory.

    ``OUT`` gets ``model.json`` (model ``"fno"``, its hyperparameters, identity
    normalisers, the source checkpoint) and ``checkpoints/{latest,best}`` holding the
    converted parameters, so that ``opjax.load(OUT).predict(x)`` reproduces the
    neuraloperator model (there is no ``config.toml``: no recipe produced it).

    Raises:
        FileExistsError: ``OUT`` already holds a model card or checkpoints.
    """
    out = ensure_free(out_dir)
    checkpoint = read_checkpoint(ckpt_dir, name)
    cls, _ = neuralop_kwargs(checkpoint.metadata)
    model, params = model_from_checkpoint(checkpoint)
    grid = [max(2 * m, 4) for m in model.n_modes]
    sample_shapes = {"x": [*grid, model.in_channels], "y": [*grid, model.out_channels]}
    source = {
        "neuralop": {
            "checkpoint": str(checkpoint.state_path.resolve()),
            "class": cls,
            "version": checkpoint.metadata.get("_version"),
        }
    }
    return write_converted_run(out, "fno", model, params, sample_shapes, source)
