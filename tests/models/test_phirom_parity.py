"""Phi-ROM against the reference code (phi-rom/PhiROM): decoders, the solver's ``f``,
``J^+ f``, ``psi``, both losses and the train step's gradient, in float64.

The fixtures come from ``tests/fixtures/phirom_reference/make_fixture.py`` (run in the
reference's own environment; this test imports nothing of it): a tiny MLP-sine decoder
with ``hyper_concat`` dynamics on 1D Burgers, and a tiny hyper-decoder with plain MLP
dynamics on 2D diffusion (one field channel, and two), with the reference's weights mapped
into opjax's variables.
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.models import build_model
from opjax.models.phirom import PhiROM
from opjax.solvers import DirichletDiffusion2D, UpwindBurgers
from opjax.training.reduced_order import physics_informed_objective, physics_losses

FIXTURES = Path(__file__).parent.parent / "fixtures" / "phirom_reference"
CASES = ("burgers", "diffusion", "diffusion_two_channels")
TOL = {"rtol": 1e-8, "atol": 1e-10}
EPS = 1e-8  # the reference normalises PDE parameters as (mu - mean) / (std + 1e-8)


def _linear(opjax_path, reference_path, bias=True):
    """Rows of the weight table for one linear layer: equinox ``[out, in]``, flax ``[in, out]``."""
    rows = [((*opjax_path, "kernel"), f"{reference_path}/weight", True)]
    if bias:
        rows.append(((*opjax_path, "bias"), f"{reference_path}/bias", False))
    return rows


def _burgers_table(depth=3, dynamics_depth=3):
    """``(opjax path, reference name, transposed)`` for every trained weight opjax has."""
    decoder = [
        row
        for i in range(depth)
        for row in _linear(("decoder_net", f"layer_{i}"), f"decoder/mlp/layers/{i}")
    ]
    decoder += _linear(("decoder_net", "output"), f"decoder/mlp/layers/{depth}")
    psi = "node/mlp/psi_layers"
    dynamics = _linear(("dynamics", "params_embedding"), "node/mlp/param_transform/layers/1")
    for i in range(dynamics_depth):
        dynamics += _linear(("dynamics", f"layer_{i}"), f"{psi}/{i}")
        dynamics.append(
            (("dynamics", f"swish_{i}", "beta"), f"node/mlp/psi_activations/{i}/beta", False)
        )
    dynamics += _linear(("dynamics", "output"), f"{psi}/{dynamics_depth}")
    return decoder + dynamics


def _diffusion_table(depth=3, dynamics_depth=2):
    """As :func:`_burgers_table`. The reference builds one more filter, INR layer and shift
    than it uses (index ``depth``) and ``linear_layers_inr[0].weight`` multiplies zero:
    opjax has no counterparts."""
    inr, hyper = "decoder/linear_layers_inr/layers", "decoder/linear_layers_hyper/layers"
    decoder = [(("decoder_net", "bias_0"), f"{inr}/0/bias", False)]
    for i in range(depth):
        decoder.append(
            (("decoder_net", f"filter_{i}"), f"decoder/filters/layers/{i}/weights", False)
        )
        decoder += _linear(("decoder_net", f"shift_{i}"), f"{hyper}/{i}", bias=False)
        if i:
            decoder += _linear(("decoder_net", f"layer_{i}"), f"{inr}/{i}")
    decoder += _linear(("decoder_net", "output"), "decoder/out_layer")
    dynamics = []  # Sequential: Linear, Lambda(swish), ..., Linear
    for i in range(dynamics_depth):
        dynamics += _linear(("dynamics", f"layer_{i}"), f"node/mlp/mlp/layers/{2 * i}")
        dynamics.append(
            (("dynamics", f"swish_{i}", "beta"), f"node/mlp/mlp/layers/{2 * i + 1}/fn/beta", False)
        )
    dynamics += _linear(("dynamics", "output"), f"node/mlp/mlp/layers/{2 * dynamics_depth}")
    return decoder + dynamics


def _setup(name):
    """The fixture, the opjax model with the reference's weights, and the solver's rate.

    Returns ``(f, model, variables, table, coords [*space, d], field_rate, params)``;
    ``params [S, p]`` or None.
    """
    f = dict(np.load(FIXTURES / f"{name}.npz"))
    w = lambda key: f[f"weights/{key}"]  # noqa: E731
    common = {
        "out_channels": f["fields"].shape[1],
        "latent_dim": f["latent_memory"].shape[-1],
        "decoder_width": 8,
        "decoder_depth": 3,
        "dynamics_width": 8,
        "n_trajectories": f["latent_memory"].shape[0],
        "n_times": f["latent_memory"].shape[1],
        "field_mean": tuple(w("decoder/denorm/mean")),
        "field_std": tuple(w("decoder/denorm/std")),
    }
    if name == "burgers":
        n = f["coords"].shape[0]
        hparams = {
            **common,
            "decoder": "mlp",
            "dynamics_depth": 3,
            "n_params": 1,
            "coords_low": tuple(w("decoder/normal_or_standard/min")),
            "coords_high": tuple(w("decoder/normal_or_standard/max")),
            "params_mean": tuple(w("node/mlp/normalization/mean")),
            "params_std": tuple(w("node/mlp/normalization/std") + EPS),
        }
        table = _burgers_table()
        coords = f["coords"]
        length = float(coords[-1, 0])
        np.testing.assert_allclose(coords[:, 0], UpwindBurgers(0.0, n, length).coordinates())

        def field_rate(u, mu):
            return UpwindBurgers(mu[0], points=n, length=length).vector_field(0.0, u[..., 0])[
                ..., None
            ]

        params = jnp.asarray(f["mu"][:, None])
    else:
        side = int(round(np.sqrt(f["coords"].shape[0])))
        hparams = {
            **common,
            "decoder": "hyper",
            "dynamics_depth": 2,
            "coords_low": tuple(w("decoder/std_coords/min")),
            "coords_high": tuple(w("decoder/std_coords/max")),
        }
        table = _diffusion_table()
        coords = f["coords"].reshape(side, side, 2)  # the reference's flat order is row-major
        (diffusivity,) = set(f["diffusivity"])  # opjax's rate sees no per-snapshot D
        equation = DirichletDiffusion2D(float(diffusivity), side - 2, float(f["dx"][0]))
        np.testing.assert_allclose(coords[0, :, 0], equation.coordinates())

        def field_rate(u, mu):  # each channel: [*space, C] -> [C, *space] and back
            return jnp.moveaxis(equation.vector_field(0.0, jnp.moveaxis(u, -1, 0)), 0, -1)

        params = None
    model = build_model("phirom", hparams)
    d = coords.shape[-1]
    init = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 3, d)), jnp.zeros((1, model.latent_dim)))
    tree = {}
    for path, key, transposed in table:
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = jnp.asarray(w(key).T if transposed else w(key))
    tree["latent_memory"] = jnp.asarray(f["latent_memory"])
    variables = {"params": tree}
    assert jax.tree.structure(variables) == jax.tree.structure(init)
    assert jax.tree.map(jnp.shape, variables) == jax.tree.map(jnp.shape, init)
    return f, model, variables, table, jnp.asarray(coords), field_rate, params


def _channels_last(a):
    """``[S, C, *space]`` (the reference's layout) -> ``[S, *space, C]``."""
    return np.moveaxis(a, 1, -1)


def _latents(f, memory):
    return memory[f["traj_idx"], f["time_idx"]]


def _losses(f, model, variables, coords, field_rate, params):
    fields = jnp.asarray(_channels_last(f["fields"]))
    latents = _latents(f, variables["params"]["latent_memory"])
    subsets = jnp.asarray(f["subsets"])
    return physics_losses(model, variables, fields, latents, coords, field_rate, subsets, params)


@pytest.mark.parametrize("name", CASES)
@jax.enable_x64(True)
def test_decoder_and_solver_rate_match_the_reference(name):
    f, model, variables, _, coords, field_rate, params = _setup(name)
    s = f["fields"].shape[0]
    grid = jnp.broadcast_to(coords.reshape(1, -1, coords.shape[-1]), (s, *f["coords"].shape))
    latents = _latents(f, variables["params"]["latent_memory"])
    decoded = model.apply(variables, grid, latents, method=PhiROM.decode)
    expected = _channels_last(f["decoded"])
    np.testing.assert_allclose(decoded.reshape(expected.shape), expected, **TOL)
    u = decoded.reshape(expected.shape)
    rates = jax.vmap(field_rate, in_axes=(0, None if params is None else 0))(u, params)
    np.testing.assert_allclose(rates, _channels_last(f["residual"]), **TOL)


@pytest.mark.parametrize("name", CASES)
@jax.enable_x64(True)
def test_the_target_velocity_and_losses_match_the_reference(name):
    f, model, variables, _, coords, field_rate, params = _setup(name)
    out = _losses(f, model, variables, coords, field_rate, params)
    np.testing.assert_allclose(out["target"], f["target"], **TOL)
    np.testing.assert_allclose(out["velocity"], f["velocity"], **TOL)
    # L_rec: the mean over snapshots and channels; L_dyn: the mean over snapshots.
    np.testing.assert_allclose(jnp.mean(out["reconstruction"]), f["loss_rec"], **TOL)
    np.testing.assert_allclose(jnp.mean(out["dynamics"]), f["loss_dyn"], **TOL)


@pytest.mark.parametrize("name", CASES)
@jax.enable_x64(True)
def test_the_train_step_gradient_matches_the_reference(name):
    """The reference adds ``lambda g_rec + (1 - lambda) g_dyn`` of its two losses; opjax
    differentiates ``lambda L_rec + (1 - lambda) L_dyn``."""
    f, model, variables, table, coords, field_rate, params = _setup(name)
    lam = float(f["loss_lambda"])

    def loss(trainable):
        out = _losses(f, model, {"params": trainable}, coords, field_rate, params)
        return lam * jnp.mean(out["reconstruction"]) + (1 - lam) * jnp.mean(out["dynamics"])

    grads = jax.grad(loss)(variables["params"])
    for path, key, transposed in table:
        g = grads
        for part in path:
            g = g[part]
        np.testing.assert_allclose(g.T if transposed else g, f[f"grad/{key}"], err_msg=key, **TOL)
    np.testing.assert_allclose(grads["latent_memory"], f["grad/latent_memory"], **TOL)
    # What opjax leaves out is dead in the reference: its gradient there is zero.
    used = {f"grad/{key}" for _, key, _ in table} | {"grad/latent_memory"}
    for key in sorted(k for k in f if k.startswith("grad/") and k not in used):
        assert not np.any(f[key]), key


@pytest.mark.parametrize("name", CASES)
@jax.enable_x64(True)
def test_the_objective_on_whole_trajectories_matches_the_reference(name):
    """``physics_informed_objective`` on the fixture's trajectories with ``gamma = 1``
    (``J`` on every point, whatever the order its random draw puts them in) against the
    reference's ``lambda L_rec + (1 - lambda) L_dyn`` at ``gamma = 1``."""
    f, model, variables, _, coords, field_rate, params = _setup(name)
    b, t = f["latent_memory"].shape[:2]
    lam = float(f["loss_lambda"])
    y = _channels_last(f["fields"])
    batch = {
        "y": jnp.asarray(y.reshape(b, t, *y.shape[1:])),
        "index": jnp.arange(b),
        "weight": jnp.ones(b),
        "step": jnp.array(0),
    }
    if params is not None:
        batch["params"] = params.reshape(b, t, -1)[:, 0]
    objective = physics_informed_objective(model, coords, field_rate, loss_lambda=lam, gamma=1.0)
    loss, _ = objective(variables, batch, jax.random.PRNGKey(0))
    expected = lam * f["loss_rec"] + (1 - lam) * f["loss_dyn_all_points"]
    np.testing.assert_allclose(loss, expected, **TOL)
