"""Rollout objectives: their special cases and the errors of bad settings."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.data.normalizers import Normalizers
from opjax.models import build_model
from opjax.training.autoregressive import diverted_chain_objective, unrolled_objective
from opjax.training.objectives import one_step_objective, training_loss

MODEL = build_model(
    "fno",
    {"n_modes": [4], "in_channels": 1, "out_channels": 1, "hidden_channels": 4, "n_layers": 1},
)


def _batch(levels):
    u = jnp.sin(jnp.linspace(0, 6, 16))[None, :, None] * jnp.arange(1, levels + 2)[:, None, None]
    u = jnp.stack([u, 0.5 * u])  # [2, levels + 1, 16, 1]
    return {"x": u[:, 0], "y": u[:, 1:], "weight": jnp.ones(2)}


def test_one_unrolled_step_is_the_one_step_objective():
    loss, batch = training_loss("mse"), _batch(1)
    params = MODEL.init(jax.random.PRNGKey(0), batch["x"])
    one = one_step_objective(MODEL, loss)(params, {**batch, "y": batch["y"][:, 0]}, None)[0]
    unrolled = unrolled_objective(MODEL, loss, Normalizers(), steps=1)(params, batch, None)[0]
    np.testing.assert_allclose(unrolled, one, rtol=1e-6)


def test_a_full_branch_is_the_rollout_against_the_solver():
    """With B = T, the diverted chain is the unrolled objective against the solver's states."""
    loss, batch = training_loss("mse"), _batch(3)
    solver = lambda u, params: 0.9 * jnp.roll(u, 1, axis=0)  # noqa: E731
    states = [batch["x"]]
    for _ in range(3):
        states.append(jax.vmap(lambda u: solver(u, None))(states[-1]))
    solved = {**batch, "y": jnp.stack(states[1:], axis=1)}
    params = MODEL.init(jax.random.PRNGKey(0), batch["x"])
    unrolled = unrolled_objective(MODEL, loss, Normalizers(), steps=3)(params, solved, None)[0]
    chain = diverted_chain_objective(MODEL, loss, Normalizers(), solver, steps=3, branch_steps=3)
    np.testing.assert_allclose(chain(params, batch, None)[0], unrolled, rtol=1e-6)


def test_bad_settings_are_named():
    loss = training_loss("mse")
    with pytest.raises(ValueError, match="branch_steps <= steps"):
        diverted_chain_objective(MODEL, loss, Normalizers(), None, steps=2, branch_steps=3)
    with pytest.raises(ValueError, match="has 2 entries; the objective has 3 levels"):
        unrolled_objective(MODEL, loss, Normalizers(), steps=3, weights=[1.0, 1.0])
    with pytest.raises(ValueError, match="post_solver_steps needs the solver"):
        unrolled_objective(MODEL, loss, Normalizers(), steps=1, post_solver_steps=1)
    batch = _batch(1)
    params = MODEL.init(jax.random.PRNGKey(0), batch["x"])
    with pytest.raises(ValueError, match="has 1 next states; need 2"):
        unrolled_objective(MODEL, loss, Normalizers(), steps=2)(params, batch, None)
