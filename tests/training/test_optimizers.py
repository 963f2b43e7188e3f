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
