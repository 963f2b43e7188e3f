import numpy as np

from opjax.data import Normalizers, UnitGaussianNormalizer


def test_encode_gives_unit_gaussian_channels_and_decode_inverts():
    rng = np.random.default_rng(0)
    data = np.stack([rng.normal(3.0, 2.0, (50, 8, 8)), rng.normal(-1.0, 0.1, (50, 8, 8))], -1)
    norm = UnitGaussianNormalizer.fit(data)
    encoded = np.asarray(norm.encode(data.astype(np.float32)))
    np.testing.assert_allclose(encoded.reshape(-1, 2).mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(encoded.reshape(-1, 2).std(0, ddof=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.asarray(norm.decode(encoded)), data, rtol=1e-5, atol=1e-5)
    # Per-channel statistics apply at any resolution.
    assert np.asarray(norm.encode(np.zeros((1, 32, 32, 2), np.float32))).shape == (1, 32, 32, 2)


def test_matches_neuraloperator_definition():
    """mean and unbiased std over all but the channel axis; (u - mean) / (std + 1e-7)."""
    data = np.random.default_rng(1).normal(size=(10, 4, 4, 1)).astype(np.float32)
    norm = UnitGaussianNormalizer.fit(data)
    expected = (data - data.mean()) / (data.std(ddof=1) + 1e-7)
    np.testing.assert_allclose(np.asarray(norm.encode(data)), expected, rtol=1e-5, atol=1e-6)


def test_serialises_through_the_model_card():
    norm = Normalizers(y=UnitGaussianNormalizer.fit(np.arange(20.0).reshape(2, 10, 1)))
    restored = Normalizers.from_dict(norm.to_dict())
    assert restored.x is None
    np.testing.assert_array_equal(restored.y.mean, norm.y.mean)
    np.testing.assert_array_equal(restored.y.std, norm.y.std)
