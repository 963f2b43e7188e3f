"""Rollouts equal the same steps taken one by one, for one and several input states."""

import jax
import jax.numpy as jnp
import numpy as np

from opjax.data.normalizers import Normalizers, UnitGaussianNormalizer
from opjax.evaluation.rollout import make_rollout
from opjax.models import FNO


def test_rollout_feeds_predictions_back_like_a_loop():
    k, c = 2, 1
    model = FNO(n_modes=(4,), in_channels=k * c, out_channels=c, hidden_channels=8, n_layers=1)
    x = jax.random.normal(jax.random.PRNGKey(0), (3, 16, k * c))
    params = model.init(jax.random.PRNGKey(1), x)
    rng = np.random.default_rng(0)
    normalizers = Normalizers(
        x=UnitGaussianNormalizer.fit(rng.normal(2.0, 3.0, (8, 16, k * c)).astype(np.float32)),
        y=UnitGaussianNormalizer.fit(rng.normal(-1.0, 0.5, (8, 16, c)).astype(np.float32)),
    )
    states = make_rollout(model, normalizers)(params, x, 4)
    assert states.shape == (3, 4, 16, c)

    window = x
    for n in range(4):
        state = normalizers.decode_output(model.apply(params, normalizers.encode_input(window)))
        np.testing.assert_allclose(states[:, n], state, rtol=1e-5, atol=1e-5)
        window = jnp.concatenate([window[..., c:], state], axis=-1)


def test_time_rollout_steps_a_time_conditioned_model_with_a_fixed_lead_time():
    from opjax.evaluation.rollout import make_time_rollout
    from opjax.models import UNet

    model = UNet(
        in_channels=1,
        out_channels=1,
        hidden_channels=4,
        ch_mults=(1, 2),
        n_blocks=1,
        norm_groups=1,
        output_norm_groups=1,
        time_conditioning=True,
        zero_init_output=False,
        zero_init_residual=False,
    )
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 8, 8, 1))
    params = model.init(jax.random.PRNGKey(1), x, t=jnp.zeros(2))
    normalizers = Normalizers(
        x=UnitGaussianNormalizer(np.array([0.5], np.float32), np.array([2.0], np.float32)),
        y=UnitGaussianNormalizer(np.array([0.5], np.float32), np.array([2.0], np.float32)),
    )
    states = make_time_rollout(model, normalizers)(params, x, 0.3, 3)
    assert states.shape == (2, 3, 8, 8, 1)
    state = x
    for n in range(3):
        out = model.apply(params, normalizers.encode_input(state), t=jnp.full(2, 0.3))
        state = normalizers.decode_output(out)
        np.testing.assert_allclose(states[:, n], state, rtol=1e-5, atol=1e-5)
    # The lead time matters: another dt gives another first step.
    other = make_time_rollout(model, normalizers)(params, x, 0.9, 1)
    assert not np.allclose(other[:, 0], states[:, 0], atol=1e-4)
