"""opjax's rollout objectives against trainax's configurations, in float64.

The fixture comes from ``tests/fixtures/trainax_reference/make_fixture.py`` (run in an
environment with trainax, exponax and apebench; this test imports none of them): a tiny
periodic convolution, exponax's advection-diffusion stepper and a batch of its
trajectories, and trainax's loss and gradient for each configuration. Here the same
network is a flax module with the same weights, the solver is opjax's own
(:func:`opjax.solvers.stepper.advance`) and apebench's corrected stepper is
:class:`~opjax.models.correction.CorrectedModel`.
"""

from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.data.normalizers import Normalizers
from opjax.models.correction import CorrectedModel
from opjax.solvers import AdvectionDiffusion, PeriodicGrid
from opjax.solvers.stepper import advance
from opjax.training.autoregressive import (
    composite_objective,
    diverted_chain_objective,
    residual_objective,
    trapezoidal_residual,
    unrolled_objective,
)
from opjax.training.objectives import training_loss

FIXTURE = Path(__file__).parent.parent / "fixtures" / "trainax_reference" / "trainax_parity.npz"
POINTS, LENGTH, DT = 33, 1.0, 0.1
TOL = {"rtol": 1e-10, "atol": 1e-12}


class TinyConv(nn.Module):
    """``conv(tanh(conv(u)))``, periodic, kernel 3, 4 hidden channels (the fixture's net)."""

    @nn.compact
    def __call__(self, u, t=None, train=False):
        del t, train
        h = jnp.tanh(nn.Conv(4, (3,), padding="CIRCULAR", name="first", dtype=u.dtype)(u))
        return nn.Conv(1, (3,), padding="CIRCULAR", name="second", dtype=u.dtype)(h)


def _flax_params(fixture, prefix=""):
    """Equinox ``[out, in, k]`` weights and ``[out, 1]`` biases as flax ``[k, in, out]``."""
    return {
        layer: {
            "kernel": np.transpose(fixture[f"{prefix}{layer}_weight"], (2, 1, 0)),
            "bias": fixture[f"{prefix}{layer}_bias"][:, 0],
        }
        for layer in ("first", "second")
    }


def _stepper(fraction=1.0):
    equation = AdvectionDiffusion(PeriodicGrid((POINTS,), LENGTH), (0.25,), 0.008)
    return lambda u, params: advance(equation, u[..., 0], DT * fraction, 1)[..., None]


def _objectives():
    loss, norm, solver, model = training_loss("mse"), Normalizers(), _stepper(), TinyConv()
    equation = AdvectionDiffusion(PeriodicGrid((POINTS,), LENGTH), (0.25,), 0.008)
    rate = lambda u, params: equation.vector_field(0.0, u[..., 0])[..., None]  # noqa: E731
    residual = trapezoidal_residual(rate, DT)
    cases = {
        "supervised": unrolled_objective(
            model, loss, norm, steps=3, cut_every=2, weights=[1.0, 0.5, 0.25]
        ),
        # trainax's DivertedChain reads the first T - B + 1 of its T time-level weights.
        "diverted_chain": diverted_chain_objective(
            model,
            loss,
            norm,
            solver,
            steps=3,
            branch_steps=2,
            cut_every=2,
            weights=[1.0, 0.7],
            branch_weights=[1.0, 0.3],
        ),
        "diverted_chain_cut": diverted_chain_objective(
            model, loss, norm, solver, steps=3, branch_steps=1, cut_solver_gradient=True
        ),
        "mix_chain_post_physics": unrolled_objective(
            model, loss, norm, steps=2, solver=solver, post_solver_steps=2
        ),
        "residuum": residual_objective(model, norm, residual, steps=4),
        "composite": composite_objective(
            {
                "unrolled": (unrolled_objective(model, loss, norm, steps=2), 1.0),
                "residual": (residual_objective(model, norm, residual, steps=2), 0.1),
            }
        ),
    }
    for mode in ("parallel", "sequential", "sequential_with_bypass"):
        corrected = CorrectedModel(model, _stepper(0.5), mode)
        cases[f"correction_{mode}"] = unrolled_objective(corrected, loss, norm, steps=3)
    return cases


CASES = _objectives()


@pytest.fixture(scope="module")
def fixture():
    with np.load(FIXTURE, allow_pickle=False) as f:
        return dict(f)


@pytest.mark.parametrize("name", sorted(CASES))
def test_loss_and_gradient_match_trainax(fixture, name):
    with jax.enable_x64(True):
        data = np.moveaxis(fixture["data"], 2, -1)  # [b, time, points, 1]
        batch = {"x": data[:, 0], "y": data[:, 1:], "weight": np.ones(len(data))}
        params = jax.tree.map(jnp.asarray, _flax_params(fixture))
        value, grads = jax.value_and_grad(
            lambda p: CASES[name]({"params": p}, batch, jax.random.PRNGKey(0))[0]
        )(params)
        np.testing.assert_allclose(float(value), fixture[f"{name}/loss"], **TOL)
        expected = _flax_params(fixture, f"{name}/")
        for layer in expected:
            for leaf in ("kernel", "bias"):
                np.testing.assert_allclose(
                    np.asarray(grads[layer][leaf]),
                    expected[layer][leaf],
                    **TOL,
                    err_msg=f"{name}: gradient of {layer}.{leaf}",
                )
