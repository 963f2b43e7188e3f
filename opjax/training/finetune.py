"""Start training from pretrained weights: the ``[finetune]`` recipe table.

``finetune.checkpoint`` names the weights (read by
:func:`opjax.workflows.pretrained.load_pretrained`). The model family and its
hyperparameters come from the checkpoint; ``model.hparams`` in the recipe may override
some (a different ``image_size``, say), and the channel counts always follow the data.

When the data's channels differ from the checkpoint's, the parts that touch channels
cannot be reused. Poseidon's recipe (``scOT/train.py``: ``from_pretrained(...,
ignore_mismatched_sizes=True)`` with the new channel counts) starts the tensors of the
input embedding and the output recovery (top-level ``embeddings`` and ``patch_recovery``)
whose shapes changed afresh, keeps those whose shapes did not (the embedding's norm and
projection bias, say), and reuses everything else. ``replace_embedding_recovery`` says
when: ``"auto"`` (when the channels differ), ``"always"``, or ``"never"`` (then differing
channels are an error). Every parameter outside the embedding and recovery must exist in
the checkpoint with the same shape; anything else is refused with the names of all the
offending tensors.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from opjax.training.optimizers import EMBEDDING_RECOVERY_KEYS, path_names
from opjax.training.recipe import RecipeError


@dataclasses.dataclass
class Pretrained:
    """Weights to start from: the model family, its hyperparameters and its variables
    (``{"params": ...}``, plus any state collections)."""

    model: str
    hparams: dict
    variables: dict
    source: str


def finetune_hparams(
    pretrained: Pretrained, overrides: dict, in_channels: int, out_channels: int, replace: str
) -> tuple[dict, bool]:
    """The model's hyperparameters, and whether the embedding and recovery are replaced."""
    hparams = {**pretrained.hparams, **overrides}
    differ = (hparams.get("in_channels"), hparams.get("out_channels")) != (
        in_channels,
        out_channels,
    )
    if differ and replace == "never":
        raise RecipeError(
            f"the checkpoint {pretrained.source} maps {hparams.get('in_channels')} to "
            f"{hparams.get('out_channels')} channels but the data has {in_channels} and "
            f"{out_channels}; set finetune.replace_embedding_recovery = 'auto'"
        )
    hparams["in_channels"], hparams["out_channels"] = in_channels, out_channels
    return hparams, replace == "always" or (differ and replace == "auto")


def _flat(tree: dict) -> dict[tuple[str, ...], np.ndarray]:
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {path_names(path): leaf for path, leaf in leaves}


def _replaced(path: tuple[str, ...], replace: bool) -> bool:
    return replace and len(path) > 1 and path[1] in EMBEDDING_RECOVERY_KEYS


def merge_pretrained(fresh: dict, pretrained: dict, *, replace: bool, source: str) -> dict:
    """``fresh`` (the model's initial variables, or their ``jax.ShapeDtypeStruct``
    shapes) with every tensor taken from ``pretrained`` except, when ``replace``, the
    embedding and recovery tensors whose shapes differ (those stay as in ``fresh``).

    Raises:
        RecipeError: naming every tensor missing from, unexpected in, or of another shape
            in the checkpoint.
    """
    ours, theirs = _flat(fresh), _flat(pretrained)
    problems = []
    for path, value in ours.items():
        if _replaced(path, replace):
            continue
        if path not in theirs:
            problems.append(f"missing {'/'.join(path)} {tuple(value.shape)}")
        elif tuple(theirs[path].shape) != tuple(value.shape):
            problems.append(
                f"{'/'.join(path)} has shape {tuple(theirs[path].shape)} in the checkpoint, "
                f"the model needs {tuple(value.shape)}"
            )
    problems += [
        f"unexpected {'/'.join(path)} {tuple(value.shape)}"
        for path, value in theirs.items()
        if path not in ours and not _replaced(path, replace)
    ]
    if problems:
        raise RecipeError(
            f"{source} does not fit the model ({len(problems)} tensors):\n  "
            + "\n  ".join(problems)
        )

    def pick(path, value):
        key = path_names(path)
        reusable = key in theirs and tuple(theirs[key].shape) == tuple(value.shape)
        if _replaced(key, replace) and not reusable:
            return value
        return np.asarray(theirs[key], dtype=value.dtype)

    return jax.tree_util.tree_map_with_path(pick, fresh)
