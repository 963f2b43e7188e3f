import math

import numpy as np
import pytest

from opjax.training.optimizers import learning_rate_schedule

BASE = {
    "lr": 1.0,
    "schedule": "cosine",
    "schedule_interval": "epoch",
    "cosine_t_max": 30,
    "warmup": 0,
    "step_size": 10,
    "gamma": 0.5,
}


def test_cosine_per_epoch_matches_pytorch_cosine_annealing():
    schedule = learning_rate_schedule(BASE, steps_per_epoch=32, epochs=20)
    for epoch in range(20):
        expected = 0.5 * (1 + math.cos(math.pi * epoch / 30))
        for step in (epoch * 32, epoch * 32 + 31):
            assert float(schedule(step)) == pytest.approx(expected, rel=1e-6)


def test_step_schedule_with_warmup_per_step():
    cfg = {**BASE, "schedule": "step", "schedule_interval": "step", "warmup": 4}
    schedule = learning_rate_schedule(cfg, steps_per_epoch=10, epochs=5)
    lrs = np.array([float(schedule(s)) for s in range(30)])
    np.testing.assert_allclose(lrs[:4], [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(lrs[4:14], 1.0)
    np.testing.assert_allclose(lrs[14:24], 0.5)


def _optimizer_cfg(**changes):
    from opjax.training.recipe import DEFAULTS

    return {**DEFAULTS["optimizer"], "schedule": "constant", "weight_decay": 0.0, **changes}


def _scot_like_tree():
    """The shapes of the parts of an scOT parameter tree the groups are defined by."""
    one = np.ones((2, 3), np.float32)
    vec = np.ones((3,), np.float32)
    norm = {"weight": {"kernel": one[:1], "bias": vec}, "bias": {"kernel": one[:1], "bias": vec}}
    return {
        "embeddings": {"patch_embeddings": {"kernel": one, "bias": vec}, "norm": norm},
        "encoder": {"block": {"layernorm_before": norm, "dense": {"kernel": one, "bias": vec}}},
        "patch_recovery": {"kernel": one},
    }


def test_parameter_groups_label_embedding_recovery_and_time_conditioned_norms():
    from opjax.training.optimizers import decay_mask, parameter_groups

    labels = parameter_groups(_scot_like_tree())
    assert labels["embeddings"]["norm"]["weight"]["kernel"] == "embedding_recovery"
    assert labels["patch_recovery"]["kernel"] == "embedding_recovery"
    block = labels["encoder"]["block"]
    assert {
        block["layernorm_before"][p][q] for p in ("weight", "bias") for q in ("kernel", "bias")
    } == {"time_conditioning"}
    assert block["dense"]["kernel"] == block["dense"]["bias"] == "rest"
    mask = decay_mask(_scot_like_tree())["encoder"]["block"]
    assert mask["dense"]["kernel"] and not mask["dense"]["bias"]
    assert not mask["layernorm_before"]["weight"]["kernel"]


def test_group_learning_rates_scale_each_groups_first_adam_step():
    import jax
    import optax

    from opjax.training.optimizers import make_optimizer

    cfg = _optimizer_cfg(lr=1e-3, lr_embedding_recovery=1e-2, lr_time_conditioning=5e-3)
    params = _scot_like_tree()
    optimizer = make_optimizer(cfg, learning_rate_schedule(cfg, 1, 1))
    grads = jax.tree.map(lambda p: 0.3 * np.ones_like(p), params)
    updates, _ = optimizer.update(grads, optimizer.init(params), params)
    # Adam's first step moves every parameter by lr (its gradient sign) exactly.
    np.testing.assert_allclose(updates["patch_recovery"]["kernel"], -1e-2, rtol=1e-5)
    norm = updates["encoder"]["block"]["layernorm_before"]["bias"]["kernel"]
    np.testing.assert_allclose(norm, -5e-3, rtol=1e-5)
    np.testing.assert_allclose(updates["encoder"]["block"]["dense"]["kernel"], -1e-3, rtol=1e-5)
    assert isinstance(optimizer, optax.GradientTransformation)


def test_norms_and_biases_can_be_exempt_from_weight_decay():
    import jax

    from opjax.training.optimizers import make_optimizer

    cfg = _optimizer_cfg(lr=0.1, weight_decay=0.5, decay_norms_and_biases=False)
    params = _scot_like_tree()
    optimizer = make_optimizer(cfg, learning_rate_schedule(cfg, 1, 1))
    zero = jax.tree.map(np.zeros_like, params)
    updates, _ = optimizer.update(zero, optimizer.init(params), params)
    block = updates["encoder"]["block"]
    np.testing.assert_allclose(block["dense"]["kernel"], -0.1 * 0.5, rtol=1e-6)
    np.testing.assert_array_equal(block["dense"]["bias"], 0.0)
    np.testing.assert_array_equal(block["layernorm_before"]["weight"]["kernel"], 0.0)
