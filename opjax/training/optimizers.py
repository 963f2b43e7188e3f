"""AdamW with warmup and cosine or step learning-rate schedules.

The schedule is a function of the optimizer step. With ``schedule_interval = "epoch"`` it
is evaluated at ``floor(step / steps_per_epoch)`` (PyTorch's schedulers, stepped once per
epoch as neuraloperator's trainer does); with ``"step"`` at ``step`` itself. In schedule
units ``s``:

    warmup (s < W):   lr(s) = lr0 (s + 1) / W
    constant:         lr(s) = lr0
    cosine:           lr(s) = lr0 (1 + cos(pi (s - W) / T)) / 2    (CosineAnnealingLR, eta_min 0)
    step:             lr(s) = lr0 gamma ** floor((s - W) / step_size)   (StepLR)

AdamW is PyTorch's: decoupled weight decay ``p <- p - lr wd p`` on every parameter.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import optax


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


def make_optimizer(cfg: dict, schedule: optax.Schedule) -> optax.GradientTransformation:
    """AdamW (optionally with global-norm gradient clipping) from an ``[optimizer]`` table."""
    adamw = optax.adamw(
        schedule, b1=cfg["b1"], b2=cfg["b2"], eps=cfg["eps"], weight_decay=cfg["weight_decay"]
    )
    if cfg["grad_clip"] > 0:
        return optax.chain(optax.clip_by_global_norm(cfg["grad_clip"]), adamw)
    return adamw
