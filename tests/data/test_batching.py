import numpy as np

from opjax.data.batching import epoch_batches


def test_every_sample_once_per_epoch_with_zero_weight_padding():
    idx, w = epoch_batches(10, 4, epoch=3, seed=7, shuffle=True)
    assert idx.shape == w.shape == (3, 4)
    assert sorted(idx[w > 0].tolist()) == list(range(10))
    assert w.sum() == 10 and (w[-1] == [1, 1, 0, 0]).all()


def test_order_depends_only_on_seed_and_epoch():
    a, _ = epoch_batches(100, 8, epoch=2, seed=1, shuffle=True)
    b, _ = epoch_batches(100, 8, epoch=2, seed=1, shuffle=True)
    c, _ = epoch_batches(100, 8, epoch=3, seed=1, shuffle=True)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    unshuffled, _ = epoch_batches(5, 5)
    np.testing.assert_array_equal(unshuffled[0], np.arange(5))
