"""AdamW with warmup and cosine or step learning-rate schedules.

The schedule is a function of the optimizer step. With ``schedule_interval = "epoch"`` it
is evaluated at ``floor(step / steps_per_epoch)`` (PyTorch's schedulers, stepped once per
epoch as neuraloperator's trainer does); with ``"step"`` at ``step`` itself. In schedule
units ``s``:

    warmup (s < W):   lr(s) = lr0 (s + 1) / W
    constant:         lr(s) = lr0
    cosine:           lr(s) = lr0 (1 + cos(pi (s - W) / T)) / 2    (CosineAnnealingLR, eta_min 0)
    step:             lr(s) = lr0 gamma ** floor((s - W) / step_size)   (StepLR)

AdamW is PyTorch's: decoupled weight decay ``p <- p - lr wd p`` on every parameter, or,
with ``decay_norms_and_biases = false``, on every parameter but biases and norm parameters.

Parameter groups (Poseidon's fine-tuning): parameters are labelled by where they sit in
the tree (:func:`parameter_groups`): ``"embedding_recovery"`` (the top-level ``embeddings``
and ``patch_recovery`` of scOT), ``"time_conditioning"`` (the ``Dense(1 -> dim)`` maps
``weight`` and ``bias`` of a time-conditioned LayerNorm: ``(..., "*norm*", "weight" |
"bias", "kernel" | "bias")``) and ``"rest"``. Each group follows the same schedule scaled
to its own peak (``lr_embedding_recovery``, ``lr_time_conditioning``; 0 means ``lr``).
Gradient clipping acts on the global norm over all groups, as PyTorch's does.

Poseidon's trainer (``scOT/trainer.py``) puts the ``weight.weight`` and ``bias.weight``
of a conditioned norm in its weight-decayed standard group (Hugging Face excludes by
the substring ``"bias"``); opjax gives the whole conditioned norm its group's learning rate
and no decay, the stated intent.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import optax

GROUPS = ("embedding_recovery", "time_conditioning", "rest")
EMBEDDING_RECOVERY_KEYS = ("embeddings", "patch_recovery")


def learning_rate_schedule(cfg: dict, steps_per_epoch: int, epochs: int) -> optax.Schedule:
    """The schedule of an ``[optimizer]`` recipe table, as a function of the step."""
    lr0 = cfg["lr"]
    per_epoch = cfg["schedule_interval"] == "epoch"
    total = epochs if per_epoch else epochs * steps_per_epoch
    warmup = cfg["warmup"]
    t_max = cfg["cosine_t_max"] or max(total - warmup, 1)
    kind = cfg["schedule"]

    def schedule(step):
        s = jnp.floor_divide(step, steps_per_epoch) if per_epoch else step
        s = jnp.asarray(s, jnp.float32)
        after = s - warmup
        if kind == "cosine":
            lr = lr0 * 0.5 * (1.0 + jnp.cos(math.pi * after / t_max))
        elif kind == "step":
            lr = lr0 * cfg["gamma"] ** jnp.floor(after / cfg["step_size"])
        else:
            lr = jnp.full_like(s, lr0)
        if warmup:
            lr = jnp.where(s < warmup, lr0 * (s + 1.0) / warmup, lr)
        return lr

    return schedule


def path_names(path) -> tuple[str, ...]:
    """The names along a ``jax.tree_util`` key path, e.g. ``("params", "encoder", "kernel")``."""
    return tuple(str(getattr(k, "key", k)) for k in path)


def _is_time_conditioning(names: tuple[str, ...]) -> bool:
    return (
        len(names) >= 3
        and "norm" in names[-3]
        and names[-2] in ("weight", "bias")
        and names[-1] in ("kernel", "bias")
    )


def parameter_groups(params) -> dict:
    """The group label of every parameter (a tree like ``params``), see the module doc."""

    def label(path, _):
        names = path_names(path)
        if names and names[0] in EMBEDDING_RECOVERY_KEYS:
            return "embedding_recovery"
        if _is_time_conditioning(names):
            return "time_conditioning"
        return "rest"

    return jax.tree_util.tree_map_with_path(label, params)


def decay_mask(params) -> dict:
    """True for the parameters weight decay applies to when norms and biases are exempt."""

    def decays(path, _):
        names = path_names(path)
        return names[-1] != "bias" and not any("norm" in n for n in names)

    return jax.tree_util.tree_map_with_path(decays, params)


def make_optimizer(cfg: dict, schedule: optax.Schedule) -> optax.GradientTransformation:
    """AdamW (optionally with global-norm gradient clipping and parameter groups) from an
    ``[optimizer]`` table."""
    lrs = {
        "embedding_recovery": cfg["lr_embedding_recovery"] or cfg["lr"],
        "time_conditioning": cfg["lr_time_conditioning"] or cfg["lr"],
        "rest": cfg["lr"],
    }
    grouped = any(lr != cfg["lr"] for lr in lrs.values())
    mask = None if cfg["decay_norms_and_biases"] else decay_mask

    def adamw(peak: float) -> optax.GradientTransformation:
        scaled = schedule if peak == cfg["lr"] else (lambda step: schedule(step) * peak / cfg["lr"])
        return optax.adamw(
            scaled,
            b1=cfg["b1"],
            b2=cfg["b2"],
            eps=cfg["eps"],
            weight_decay=cfg["weight_decay"],
            mask=mask,
        )

    if grouped:
        update = optax.multi_transform(
            {group: adamw(lr) for group, lr in lrs.items()}, parameter_groups
        )
    else:
        update = adamw(cfg["lr"])
    if cfg["grad_clip"] > 0:
        return optax.chain(optax.clip_by_global_norm(cfg["grad_clip"]), update)
    return update
