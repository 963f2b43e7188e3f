"""Windows drawn inside the step from a problem's generator."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.data.generation.problems import ks1d
from opjax.training.on_the_fly import on_the_fly_objective, window_drawer


def _problem():
    return ks1d.build(
        {**ks1d.DEFAULTS, "points": 32, "n_times": 6, "domain_jitter": 0.1, "domain_length": 22.0}
    )


def test_drawn_windows_are_consecutive_solver_states():
    problem = _problem()
    draw = jax.jit(window_drawer(problem, "u", 3, k=1, levels=2, params=["domain_length"]))
    batch = draw(jax.random.PRNGKey(0))
    assert batch["x"].shape == (3, 32, 1) and batch["y"].shape == (3, 2, 32, 1)
    step = jax.vmap(problem.stepper())
    np.testing.assert_allclose(step(batch["x"], batch["params"]), batch["y"][:, 0], atol=3e-5)
    np.testing.assert_allclose(step(batch["y"][:, 0], batch["params"]), batch["y"][:, 1], atol=3e-5)
    again = draw(jax.random.PRNGKey(0))
    np.testing.assert_array_equal(np.asarray(batch["y"]), np.asarray(again["y"]))
    other = draw(jax.random.PRNGKey(1))
    assert not np.allclose(np.asarray(batch["y"]), np.asarray(other["y"]))


def test_the_objective_sees_the_drawn_batch():
    problem = _problem()
    draw = window_drawer(problem, "u", 2, k=1, levels=1)
    seen = on_the_fly_objective(lambda p, b, r: (jnp.sum(b["y"]) * b["weight"][0], {}), draw)
    loss, _ = seen({}, {"weight": jnp.ones(2)}, jax.random.PRNGKey(4))
    expected = jnp.sum(draw(jax.random.split(jax.random.PRNGKey(4))[0])["y"])
    np.testing.assert_allclose(loss, expected, rtol=1e-6)


def test_a_window_longer_than_the_trajectory_is_named():
    with pytest.raises(ValueError, match="spans 7 states; the problem saves 6"):
        window_drawer(_problem(), "u", 2, k=1, levels=6)
