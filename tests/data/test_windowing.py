"""Windows over trajectories: exact contents from fields whose values encode their indices."""

import numpy as np
import pytest

from opjax.data.errors import DataFormatError
from opjax.data.fields import ArrayField
from opjax.data.windowing import all_to_all_pairs, k_in_m_out, rollout_targets, window_starts

N, T, X = 3, 7, 8


def coded_field(channels=1):
    """value = 100 sample + 10 time + x / 100 (+ 0.001 channel): every entry says where it is."""
    s, t, x, c = np.meshgrid(
        np.arange(N), np.arange(T), np.arange(X), np.arange(channels), indexing="ij"
    )
    u = (100 * s + 10 * t + x / 100 + c / 1000).astype(np.float64)
    return ArrayField("u", u, u.shape, True, tuple(f"c{i}" for i in range(channels)), lambda a: a)


def decode(values):
    sample = np.floor(values / 100)
    time = np.floor((values - 100 * sample) / 10)
    return sample.astype(int), time.astype(int)


def test_window_starts():
    np.testing.assert_array_equal(window_starts(7, 2, 1), [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(window_starts(7, 2, 2, stride=2), [0, 2])
    with pytest.raises(DataFormatError, match="needs 8 states"):
        window_starts(7, 4, 4)


def test_k_in_m_out_pairs_consecutive_states_in_order():
    sample = k_in_m_out(coded_field(channels=2), k=2, m=1)
    n_windows = T - 2
    assert sample["x"].shape == (N * n_windows, X, 4) and sample["y"].shape == (N * n_windows, X, 2)
    s, t = decode(sample["x"][..., 0, :])  # first point, channels: (state 0: c0 c1, state 1: ...)
    w = 4  # window 4 of trajectory 0 starts at state 4
    np.testing.assert_array_equal(s[w], [0, 0, 0, 0])
    np.testing.assert_array_equal(t[w], [4, 4, 5, 5])
    np.testing.assert_allclose(sample["x"][w, 0] % 1, [0, 0.001, 0, 0.001], atol=1e-4)
    np.testing.assert_array_equal(decode(sample["y"][w, 0])[1], [6, 6])
    np.testing.assert_array_equal(decode(sample["y"][n_windows, 0])[0], [1, 1])  # next trajectory


def test_k_in_m_out_with_subsampling_and_several_outputs():
    sample = k_in_m_out(coded_field(), k=1, m=2, time_step=2, space_step=2, samples=[2])
    # kept states 0, 2, 4, 6 -> windows starting at 0 and 2 (kept index)
    assert sample["x"].shape == (2, X // 2, 1) and sample["y"].shape == (2, 2, X // 2, 1)
    np.testing.assert_array_equal(decode(sample["y"][1, :, 0, 0])[1], [4, 6])
    np.testing.assert_allclose(sample["x"][0, :, 0] % 1, np.arange(0, X, 2) / 100, atol=1e-4)
    assert np.all(decode(sample["x"])[0] == 2)


def test_rollout_targets():
    sample = rollout_targets(coded_field(), k=2, horizon=3)
    assert sample["x"].shape == (N, X, 2) and sample["y"].shape == (N, 3, X, 1)
    np.testing.assert_array_equal(decode(sample["y"][1, :, 0, 0])[1], [2, 3, 4])
    assert rollout_targets(coded_field(), k=1)["y"].shape == (N, T - 1, X, 1)


def test_all_to_all_pairs_are_poseidons():
    times = np.arange(T) * 0.5
    sample = all_to_all_pairs(coded_field(), times, time_scale=2.0, time_step=2, max_states=3)
    # kept states 0, 2, 4: pairs (0,0) (0,2) (0,4) (2,2) (2,4) (4,4) per trajectory
    assert sample["x"].shape == (N * 6, X, 1) and sample["t"].shape == (N * 6,)
    _, ti = decode(sample["x"][:6, 0, 0])
    _, tj = decode(sample["y"][:6, 0, 0])
    np.testing.assert_array_equal(ti, [0, 0, 0, 2, 2, 4])
    np.testing.assert_array_equal(tj, [0, 2, 4, 2, 4, 4])
    np.testing.assert_allclose(sample["t"][:6], (tj - ti) * 0.5 / 2.0)
    full = all_to_all_pairs(coded_field())
    assert len(full["x"]) == N * T * (T + 1) // 2


def test_a_steady_field_cannot_be_windowed():
    u = np.zeros((2, 4, 1))
    with pytest.raises(DataFormatError, match="no time axis"):
        k_in_m_out(ArrayField("a", u, u.shape, False, ("a",), lambda v: v))


def test_k_in_m_out_all_offsets_starts_windows_at_every_saved_state():
    sample = k_in_m_out(coded_field(), k=1, m=2, time_step=2, all_offsets=True, samples=[1])
    # offset 0: kept 0, 2, 4, 6 -> windows (0, 2, 4), (2, 4, 6); offset 1: kept 1, 3, 5 -> (1, 3, 5)
    assert sample["x"].shape == (3, X, 1) and sample["y"].shape == (3, 2, X, 1)
    np.testing.assert_array_equal(decode(sample["x"][:, 0, 0])[1], [0, 2, 1])
    np.testing.assert_array_equal(decode(sample["y"][:, :, 0, 0])[1], [[2, 4], [4, 6], [3, 5]])
    assert np.all(decode(sample["x"])[0] == 1)
    plain = k_in_m_out(coded_field(), k=1, m=2, time_step=2, samples=[1])
    np.testing.assert_array_equal(plain["y"], sample["y"][:2])


def test_every_pair_carries_its_trajectorys_params():
    params = np.array([[0.5, 7.0], [1.5, 8.0], [2.5, 9.0]])  # [N, 2]: param j of sample s
    for sample in (
        k_in_m_out(coded_field(), k=2, m=1, time_step=2, all_offsets=True, params=params),
        rollout_targets(coded_field(), k=1, params=params),
        all_to_all_pairs(coded_field(), params=params),
    ):
        owner = decode(sample["x"][:, 0, 0])[0]  # the trajectory each pair comes from
        np.testing.assert_array_equal(sample["params"], params[owner].astype(np.float32))
    with pytest.raises(DataFormatError, match="n_trajectories=3"):
        rollout_targets(coded_field(), k=1, params=params[:2])
