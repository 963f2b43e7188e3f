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
