"""PDE-Refiner: noise schedules, the refinement loop against the backbone called by hand,
training pairs, randomness, and rollouts as one lax.scan with K + 1 backbone calls a step."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.data.normalizers import Normalizers
from opjax.evaluation.rollout import make_rollout, make_sampled_rollout
from opjax.metrics.uncertainty import sample_correlation, sample_std
from opjax.models import PDERefiner, UNet, build_model, model_hparams, refinement_samples
from opjax.models.refiner import (
    ddpm_alphas_cumprod,
    ddpm_noise_stds,
    ddpm_step,
    paper_noise_stds,
)

BACKBONE = {
    "hidden_channels": 4,
    "ch_mults": (1, 2),
    "n_blocks": 1,
    "norm_groups": 1,
    "output_norm_groups": 1,
    "zero_init_output": False,
    "zero_init_residual": False,
}


def refiner(**kwargs):
    return PDERefiner(
        **{"in_channels": 1, "out_channels": 1, "backbone_hparams": BACKBONE, **kwargs}
    )


def setup(model, batch=2, points=16, seed=0):
    x = jax.random.normal(jax.random.PRNGKey(seed), (batch, points, model.in_channels))
    return x, model.init(jax.random.PRNGKey(seed + 1), x)


def backbone_of(model):
    return UNet(in_channels=model.in_channels + model.out_channels, out_channels=1, **BACKBONE)


def test_noise_schedules():
    np.testing.assert_allclose(paper_noise_stds(3, 1e-6), [0.0, 1e-2, 1e-4, 1e-6], rtol=1e-12)
    # pdearena's DDPM (betas min_noise_std^(k/K) as variances): effective std per timestep.
    np.testing.assert_allclose(ddpm_noise_stds(3, 4e-7), [6.3e-4, 7.4e-3, 8.6e-2, 1.0], rtol=0.02)
    assert ddpm_alphas_cumprod(3, 4e-7)[-1] == 0.0  # the last timestep is pure noise


@pytest.mark.parametrize("difference", [False, True])
def test_zero_refinement_steps_is_the_one_step_backbone(difference):
    model = refiner(num_refinement_steps=0, predict_difference=difference, difference_weight=0.3)
    x, params = setup(model)
    net_params = {"params": params["params"]["net"]}
    inputs = jnp.concatenate([x, jnp.zeros_like(x)], axis=-1)
    direct = backbone_of(model).apply(net_params, inputs, t=jnp.zeros(2))
    expected = x + 0.3 * direct if difference else direct
    np.testing.assert_allclose(model.apply(params, x), expected, rtol=1e-6, atol=1e-6)


def test_paper_refinement_loop_against_the_backbone_by_hand():
    """Replay the K + 1 backbone calls of one refinement: step 0 sees [x, 0], step k sees
    [x, u^(k-1) + sigma_k eps_k] with t = k 1000 / K, and u^k = noised - sigma_k NN(...)."""
    model = refiner(num_refinement_steps=2, min_noise_std=1e-2)
    x, params = setup(model)
    out, calls = capture_backbone_calls(
        lambda: model.apply(params, x, rngs={"refine": jax.random.PRNGKey(7)})
    )
    assert len(calls) == 3
    net = backbone_of(model)
    net_params = {"params": params["params"]["net"]}
    nn_ = [net.apply(net_params, inputs, t=t) for inputs, t in calls]
    for k, (inputs, t) in enumerate(calls):
        np.testing.assert_array_equal(inputs[..., :1], x)
        np.testing.assert_allclose(t, [500.0 * k] * 2)
    np.testing.assert_array_equal(calls[0][0][..., 1:], 0.0)
    u = nn_[0]
    for k, std in ((1, 0.1), (2, 0.01)):
        noised = calls[k][0][..., 1:]
        eps = (noised - u) / std
        assert 0.5 < float(jnp.std(eps)) < 2.0
        u = noised - std * nn_[k]
    np.testing.assert_allclose(out, u, rtol=1e-5, atol=1e-6)


def test_ddpm_step_reverses_the_noising_with_the_true_velocity():
    """With the exact v-prediction a DDPM step lands on the posterior of the true state:
    at timestep 0 it returns the state itself, from the pure-noise timestep K the state
    re-noised at level K - 1."""
    abar = ddpm_alphas_cumprod(3, 4e-7)
    u = jax.random.normal(jax.random.PRNGKey(0), (2, 8, 1))
    eps, fresh = jax.random.normal(jax.random.PRNGKey(1), (2, 2, 8, 1))
    for s in range(4):
        a = abar[s]
        y = np.sqrt(a) * u + np.sqrt(1 - a) * eps
        v = np.sqrt(a) * eps - np.sqrt(1 - a) * u
        out = ddpm_step(abar, s, y, v, fresh)
        if s == 0:
            np.testing.assert_allclose(out, u, atol=2e-5)
    out = ddpm_step(abar, 3, eps, -u, fresh)
    expected = np.sqrt(abar[2]) * u + np.sqrt(1 - abar[2]) * fresh
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("schedule", ["paper", "pdearena"])
def test_noise_is_deterministic_per_key(schedule):
    model = refiner(schedule=schedule, num_refinement_steps=2, min_noise_std=1e-2)
    x, params = setup(model)
    apply = jax.jit(model.apply)
    np.testing.assert_array_equal(apply(params, x), apply(params, x))
    keyed = jax.jit(lambda p, x, key: model.apply(p, x, rngs={"refine": key}))
    a = keyed(params, x, jax.random.PRNGKey(1))
    b = keyed(params, x, jax.random.PRNGKey(1))
    c = keyed(params, x, jax.random.PRNGKey(2))
    np.testing.assert_array_equal(a, b)
    assert float(jnp.max(jnp.abs(a - c))) > 0
    samples = refinement_samples(model, params, x, jax.random.PRNGKey(3), 3)
    assert samples.shape == (3, *x.shape)
    assert float(jnp.min(jnp.std(samples, axis=0))) >= 0 and float(jnp.max(jnp.std(samples, 0))) > 0


def capture_backbone_calls(fn):
    """Run ``fn`` and record the (input, t) of every UNet call made while tracing it."""
    calls = []

    def interceptor(next_fun, args, kwargs, context):
        if isinstance(context.module, UNet) and context.method_name == "__call__":
            calls.append((args[0], kwargs.get("t")))
        return next_fun(*args, **kwargs)

    with nn.intercept_methods(interceptor):
        out = fn()
    return out, calls


def test_paper_training_pair_targets():
    """Step 0: the backbone sees [x, 0] and the target is the state (here the scaled
    difference); steps k >= 1: it sees [x, u + sigma_k eps] and the target is eps."""
    model = refiner(
        num_refinement_steps=2, min_noise_std=1e-2, predict_difference=True, difference_weight=0.5
    )
    x, params = setup(model, batch=3)
    y = x + 1.0  # scaled difference: (y - x) / 0.5 = 2 everywhere
    noise = jnp.full_like(x, 3.0)
    step = jnp.array([0, 1, 2])
    (pred, target), calls = capture_backbone_calls(
        lambda: model.apply(params, x, y, step, noise, method=PDERefiner.denoising_pair)
    )
    np.testing.assert_allclose(target[0], 2.0, rtol=1e-6)
    np.testing.assert_allclose(target[1:], 3.0)
    ((inputs, t),) = calls
    np.testing.assert_allclose(inputs[..., 0], x[..., 0])
    np.testing.assert_allclose(inputs[0, :, 1], 0.0)
    np.testing.assert_allclose(inputs[1, :, 1], 2.0 + 0.1 * 3.0, rtol=1e-6)
    np.testing.assert_allclose(inputs[2, :, 1], 2.0 + 0.01 * 3.0, rtol=1e-6)
    np.testing.assert_allclose(t, [0.0, 500.0, 1000.0])
    assert pred.shape == target.shape == x.shape


def test_pdearena_training_pair_targets():
    model = refiner(schedule="pdearena", num_refinement_steps=3)
    x, params = setup(model, batch=4)
    y, noise = x + 1.0, jnp.full_like(x, 3.0)
    step = jnp.arange(4)
    (_, target), calls = capture_backbone_calls(
        lambda: model.apply(params, x, y, step, noise, method=PDERefiner.denoising_pair)
    )
    a = ddpm_alphas_cumprod(3, 4e-7)[:, None, None]
    np.testing.assert_allclose(target, np.sqrt(a) * 3.0 - np.sqrt(1 - a) * y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(target[3], -y[3], rtol=1e-6)  # pure noise: predict -u
    np.testing.assert_allclose(calls[0][0][3, :, 1], 3.0, rtol=1e-6)


@pytest.mark.parametrize("schedule", ["paper", "pdearena"])
def test_rollout_is_one_scan_with_k_plus_one_backbone_calls_per_step(schedule):
    K = 3
    model = refiner(schedule=schedule, num_refinement_steps=K, min_noise_std=1e-2)
    x, params = setup(model)
    normalizers = Normalizers(x=None, y=None)
    rollout = make_rollout(model, normalizers)
    states, calls = capture_backbone_calls(lambda: rollout(params, x, 5))
    assert states.shape == (2, 5, 16, 1) and bool(jnp.all(jnp.isfinite(states)))
    assert len(calls) == K + 1  # the scan body is traced once
    jaxpr = jax.make_jaxpr(lambda p, x: model.apply(p, x))(params, x)
    step = [e for e in jaxpr.jaxpr.eqns if e.primitive.name == "conv_general_dilated"]
    one = jax.make_jaxpr(lambda p, x: backbone_of(model).apply(p, x, t=jnp.zeros(2)))(
        {"params": params["params"]["net"]}, jnp.concatenate([x, x], -1)
    )
    per_call = [e for e in one.jaxpr.eqns if e.primitive.name == "conv_general_dilated"]
    assert len(step) == (K + 1) * len(per_call)
    text = str(jax.make_jaxpr(lambda p, x: rollout(p, x, 5))(params, x))
    assert text.count("scan[") == 1 and "length=5" in text
    # Step by step equals the scan (deterministic default noise).
    first = model.apply(params, x)
    np.testing.assert_allclose(states[:, 0], first, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(states[:, 1], model.apply(params, first), rtol=1e-5, atol=1e-5)


def test_sampled_rollouts_and_their_spread():
    model = refiner(schedule="pdearena", num_refinement_steps=2)
    x, params = setup(model)
    rollout = make_sampled_rollout(model, Normalizers(x=None, y=None))
    samples = rollout(params, x, 4, jax.random.PRNGKey(0), 3)
    assert samples.shape == (3, 2, 4, 16, 1)
    again = rollout(params, x, 4, jax.random.PRNGKey(0), 3)
    np.testing.assert_array_equal(samples, again)
    std, corr = sample_std(samples), sample_correlation(samples)
    assert std.shape == corr.shape == (2, 4)
    assert float(jnp.min(std)) > 0 and float(jnp.max(corr)) <= 1.0 + 1e-6
    same = jnp.stack([samples[0]] * 3)
    np.testing.assert_allclose(sample_std(same), 0.0, atol=1e-7)
    np.testing.assert_allclose(sample_correlation(same), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="n_samples >= 2"):
        sample_std(samples[:1])


def test_hyperparameters_round_trip_and_errors():
    model = build_model(
        "refiner",
        {"in_channels": 1, "out_channels": 1, "backbone_hparams": dict(BACKBONE, ch_mults=[1, 2])},
    )
    rebuilt = build_model("refiner", model_hparams(model))
    assert rebuilt == model and hash(rebuilt) == hash(model)
    assert model_hparams(model)["backbone_hparams"]["ch_mults"] == [1, 2]
    x = jnp.zeros((1, 16, 1))
    with pytest.raises(ValueError, match="takes no lead time"):
        model.init(jax.random.PRNGKey(0), x, t=jnp.zeros(1))
    with pytest.raises(ValueError, match="derives them"):
        refiner(backbone_hparams={**BACKBONE, "in_channels": 2}).init(jax.random.PRNGKey(0), x)
    with pytest.raises(ValueError, match="time_conditioning=False"):
        refiner(backbone_hparams={**BACKBONE, "time_conditioning": False}).init(
            jax.random.PRNGKey(0), x
        )
    with pytest.raises(ValueError, match="schedule="):
        refiner(schedule="ddim").init(jax.random.PRNGKey(0), x)
    with pytest.raises(ValueError, match=">= 1 for the 'pdearena'"):
        refiner(schedule="pdearena", num_refinement_steps=0).init(jax.random.PRNGKey(0), x)
