import jax.numpy as jnp
import numpy as np
import pytest

from opjax.training.objectives import grouped_relative_l1, training_loss


def poseidon_loss(pred, true, groups):
    """scOT's loss written out with NumPy (``ScOT.forward`` with ``p = 1``): per group,
    ``l1_loss(pred_g, y_g) / (l1_loss(y_g, 0) + 1e-10)`` (means over everything), then
    the mean over groups."""
    terms = []
    for lo, hi in zip(groups[:-1], groups[1:]):
        num = np.mean(np.abs(pred[..., lo:hi] - true[..., lo:hi]))
        den = np.mean(np.abs(true[..., lo:hi]))
        terms.append(num / (den + 1e-10))
    return np.mean(terms)


def test_grouped_relative_l1_is_poseidons_loss_and_ignores_padding():
    rng = np.random.default_rng(0)
    pred = rng.normal(size=(3, 8, 8, 4)).astype(np.float32)
    true = rng.normal(size=(3, 8, 8, 4)).astype(np.float32) * np.array([1, 3, 3, 0.1])
    groups = [0, 1, 3, 4]
    expected = poseidon_loss(pred, true, groups)
    got = grouped_relative_l1(pred, true, jnp.ones(3), groups)
    assert float(got) == pytest.approx(expected, rel=1e-5)
    # A padded batch (weight 0 rows, arbitrary values) gives the same loss.
    padded_pred = np.concatenate([pred, 100 * np.ones_like(pred[:2])])
    padded_true = np.concatenate([true, -7 * np.ones_like(true[:2])])
    weight = jnp.array([1.0, 1, 1, 0, 0])
    assert float(grouped_relative_l1(padded_pred, padded_true, weight, groups)) == pytest.approx(
        expected, rel=1e-5
    )
    one_group = training_loss("relative_l1")(pred, true, jnp.ones(3))
    assert float(one_group) == pytest.approx(poseidon_loss(pred, true, [0, 4]), rel=1e-5)


def test_bad_channel_groups_are_named():
    x = np.ones((1, 4, 4, 3), np.float32)
    with pytest.raises(ValueError, match="channel_groups"):
        grouped_relative_l1(x, x, jnp.ones(1), [0, 2, 5])
