"""Phi-ROM's physics-informed objective: J^+ f against an independent least-squares solve,
gradients through the solver, the Jacobian and the QR against finite differences, and the
warm-up's gate."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.models import build_model
from opjax.solvers import UpwindBurgers
from opjax.training.reduced_order import (
    least_squares_velocity,
    physics_informed_objective,
    physics_losses,
)

HPARAMS = {
    "out_channels": 1,
    "latent_dim": 3,
    "decoder_width": 8,
    "decoder_depth": 2,
    "dynamics_width": 8,
    "dynamics_depth": 2,
    "n_params": 1,
    "n_trajectories": 2,
    "n_times": 3,
    "coords_low": (0.0,),
    "coords_high": (10.0,),
    "field_mean": (2.0,),
    "field_std": (0.5,),
}
N = 16


def _burgers_rate(u, mu):
    return UpwindBurgers(mu[0], points=N, length=10.0).vector_field(0.0, u[..., 0])[..., None]


def _setup(seed=0):
    model = build_model("phirom", HPARAMS)
    coords = jnp.linspace(0.0, 10.0, N)[:, None]
    variables = model.init(jax.random.PRNGKey(seed), coords[None], jnp.zeros((1, 3)))
    rng = np.random.default_rng(seed)
    memory = rng.normal(size=(2, 3, 3))
    variables = {"params": {**variables["params"], "latent_memory": jnp.asarray(memory)}}
    batch = {
        "y": jnp.asarray(2 + 0.3 * rng.normal(size=(2, 3, N, 1))),
        "index": jnp.array([1, 0]),
        "params": jnp.array([[0.02], [0.03]]),
        "weight": jnp.ones(2),
        "step": jnp.array(5),
    }
    return model, coords, jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), variables), batch


def test_least_squares_velocity_is_the_pseudo_inverse_solution():
    rng = np.random.default_rng(0)
    jacobian, rate = rng.normal(size=(12, 4)), rng.normal(size=12)
    expected = np.linalg.lstsq(jacobian, rate, rcond=None)[0]
    np.testing.assert_allclose(least_squares_velocity(jacobian, rate), expected, rtol=1e-4)


@jax.enable_x64(True)
def test_the_target_is_the_least_squares_velocity_of_the_decoder_jacobian():
    model, coords, variables, batch = _setup()
    fields = batch["y"][:, 0]
    latents = variables["params"]["latent_memory"][batch["index"], 0]
    subsets = jnp.array([[0, 3, 7, 9, 15], [2, 4, 5, 11, 12]])
    out = physics_losses(
        model, variables, fields, latents, coords, _burgers_rate, subsets, batch["params"]
    )
    grid = coords[None]

    def decoded(a):
        return model.apply(variables, grid, a[None], method="decode")[0, :, 0]

    for s in range(2):
        u_hat = decoded(latents[s])
        rate = _burgers_rate(u_hat[:, None], batch["params"][s])[:, 0]
        jacobian = np.asarray(jax.jacrev(decoded)(latents[s]))[np.asarray(subsets[s])]
        expected = np.linalg.lstsq(jacobian, np.asarray(rate)[np.asarray(subsets[s])], rcond=None)[
            0
        ]
        np.testing.assert_allclose(out["target"][s], expected, rtol=1e-8)
        psi = model.apply(variables, latents[s][None], batch["params"][s][None], method="velocity")[
            0
        ]
        np.testing.assert_allclose(
            out["dynamics"][s], np.linalg.norm(psi - expected) / np.linalg.norm(expected), rtol=1e-8
        )
        error = np.linalg.norm(u_hat - fields[s, :, 0]) / np.linalg.norm(fields[s, :, 0])
        np.testing.assert_allclose(out["reconstruction"][s, 0], error, rtol=1e-8)


@jax.enable_x64(True)
def test_gradients_through_solver_jacobian_and_qr_match_finite_differences():
    """``L_dyn``'s denominator is held (stop-gradient), so the differentiated quantity is
    ``lambda L_rec + (1 - lambda) sum ||psi - J^+ f|| / c`` with ``c`` fixed."""
    model, coords, variables, batch = _setup(1)
    fields = batch["y"][:, 0]
    subsets = jnp.array([[0, 3, 7, 9, 15], [2, 4, 5, 11, 12]])

    def parts(v):
        latents = v["params"]["latent_memory"][batch["index"], 0]
        out = physics_losses(
            model, v, fields, latents, coords, _burgers_rate, subsets, batch["params"]
        )
        return out

    size = np.linalg.norm(np.asarray(parts(variables)["target"]), axis=-1)

    def differentiated(v):  # the objective's gradient as a plain function of v
        out = parts(v)
        held = jnp.linalg.norm(jax.lax.stop_gradient(out["target"]), axis=-1)
        return jnp.mean(out["reconstruction"]) + jnp.mean(out["dynamics"] * held / size)

    def value(v):
        out = parts(v)
        residual = jnp.linalg.norm(out["velocity"] - out["target"], axis=-1)
        return jnp.mean(out["reconstruction"]) + jnp.mean(residual / size)

    grads = jax.grad(differentiated)(variables)
    direction = jax.tree.map(
        lambda a: jnp.asarray(np.random.default_rng(a.size).normal(size=a.shape)), variables
    )
    eps = 1e-6
    shifted = lambda e: jax.tree.map(lambda a, d: a + e * d, variables, direction)  # noqa: E731
    fd = (value(shifted(eps)) - value(shifted(-eps))) / (2 * eps)
    analytic = sum(
        jnp.vdot(g, d) for g, d in zip(jax.tree.leaves(grads), jax.tree.leaves(direction))
    )
    np.testing.assert_allclose(analytic, fd, rtol=1e-5)
    # Every part of the model learns: decoder, dynamics and the latents in use.
    params = grads["params"]
    for part in ("decoder_net", "dynamics"):
        assert sum(float(jnp.abs(g).sum()) for g in jax.tree.leaves(params[part])) > 0
    assert float(jnp.abs(params["latent_memory"][:, 0]).min()) > 0


@jax.enable_x64(True)
def test_during_warm_up_the_dynamics_loss_trains_only_the_dynamics_network():
    model, coords, variables, batch = _setup(2)
    rng = jax.random.PRNGKey(0)
    dynamics_only = physics_informed_objective(
        model, coords, _burgers_rate, gamma=0.5, loss_lambda=0.0, warmup_steps=10
    )
    after = physics_informed_objective(model, coords, _burgers_rate, gamma=0.5, loss_lambda=0.0)
    warm = jax.grad(lambda v: dynamics_only(v, batch, rng)[0])(variables)["params"]
    full = jax.grad(lambda v: after(v, batch, rng)[0])(variables)["params"]
    assert all(float(jnp.abs(g).max()) == 0 for g in jax.tree.leaves(warm["decoder_net"]))
    assert float(jnp.abs(warm["latent_memory"]).max()) == 0
    assert float(jnp.abs(full["latent_memory"]).max()) > 0
    for w, f in zip(jax.tree.leaves(warm["dynamics"]), jax.tree.leaves(full["dynamics"])):
        np.testing.assert_allclose(w, f, rtol=1e-12)
    assert dynamics_only(variables, batch, rng)[0] == after(variables, batch, rng)[0]


def test_too_few_points_for_the_jacobian_are_refused():
    model, coords, _, _ = _setup()
    with pytest.raises(ValueError, match="keeps 1 of 16 points"):
        physics_informed_objective(model, coords, _burgers_rate, gamma=0.1)


@jax.enable_x64(True)
def test_sparse_observations_reconstruct_only_the_observed_points():
    model, coords, variables, batch = _setup(3)
    fields = batch["y"][:, 0]
    latents = variables["params"]["latent_memory"][batch["index"], 0]
    subsets = jnp.array([[0, 3, 7, 9, 15], [2, 4, 5, 11, 12]])
    observed = jnp.array([[1, 8], [0, 14]])
    args = (model, variables, fields, latents, coords, _burgers_rate, subsets, batch["params"])
    sparse, dense = physics_losses(*args, observed=observed), physics_losses(*args)
    decoded = model.apply(variables, coords[None].repeat(2, 0), latents, method="decode")
    for s in range(2):
        seen = np.asarray(observed[s])
        error = np.linalg.norm(decoded[s, seen, 0] - fields[s, seen, 0])
        expected = error / np.linalg.norm(fields[s, seen, 0])
        np.testing.assert_allclose(sparse["reconstruction"][s, 0], expected, rtol=1e-10)
    np.testing.assert_allclose(sparse["dynamics"], dense["dynamics"], rtol=1e-12)
    # In the objective, each snapshot keeps its own points for the whole run.
    objective = physics_informed_objective(
        model, coords, _burgers_rate, gamma=0.5, observed_fraction=0.25
    )
    first = objective(variables, batch, jax.random.PRNGKey(0))[0]
    again = objective(variables, batch, jax.random.PRNGKey(1))
    dense_objective = physics_informed_objective(model, coords, _burgers_rate, gamma=0.5)
    assert first != dense_objective(variables, batch, jax.random.PRNGKey(0))[0]
    assert bool(jnp.isfinite(again[0])) and all(bool(v) for v in again[1]["finite"].values())


def test_a_non_finite_solver_rate_or_target_is_named():
    model, coords, variables, batch = _setup()
    variables = jax.tree.map(lambda a: a.astype(jnp.float32), variables)
    batch = {**batch, "y": batch["y"].astype(jnp.float32), "params": batch["params"]}

    def exploding_rate(u, mu):
        return _burgers_rate(u, mu) / 0.0

    objective = physics_informed_objective(model, coords, exploding_rate, gamma=0.5)
    loss, aux = objective(variables, batch, jax.random.PRNGKey(0))
    assert not np.isfinite(loss)
    failed = [name for name, ok in aux["finite"].items() if not ok]
    assert any(name.startswith("the solver's time derivative") for name in failed)
    # A decoder that ignores the latent has a zero Jacobian: J^+ f is not finite.
    flat = jax.tree.map(jnp.zeros_like, variables)
    loss, aux = physics_informed_objective(model, coords, _burgers_rate, gamma=0.5)(
        flat, batch, jax.random.PRNGKey(0)
    )
    assert [name for name, ok in aux["finite"].items() if not ok][0].startswith("J^+ f")


def test_the_loop_names_the_quantity_that_became_non_finite(tmp_path):
    from opjax.runs.checkpoints import RunCheckpoints
    from opjax.training.loop import LoopSettings, NonFiniteLossError, fit

    def step(state, data, idx, weight):
        return state, jnp.float32(np.nan), {"J^+ f": jnp.bool_(False), "other": jnp.bool_(True)}

    settings = LoopSettings(1, 2, False, 1, 1, 0, "phirom", "test/a/l2", lambda step: 1e-3)
    checkpoints = RunCheckpoints(str(tmp_path / "checkpoints"))
    try:
        with pytest.raises(NonFiniteLossError, match=r"step 0 \(epoch 0\) because J\^\+ f became"):
            fit(
                step,
                {},
                {"x": np.zeros((2, 1))},
                settings,
                evaluate=dict,
                checkpoints=checkpoints,
                run_dir=tmp_path,
            )
    finally:
        checkpoints.close()
