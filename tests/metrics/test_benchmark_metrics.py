"""PDEBench, The Well, Poseidon and PDE-Refiner metrics: analytic cases and parity fixtures.

``benchmark_metrics.npz`` holds the outputs of the benchmarks' own metric code on fixed
inputs (see ``tests/fixtures/make_benchmark_metric_fixtures.py``).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax import metrics as M
from tests.conftest import FIXTURES

RTOL = 1e-5


@pytest.fixture(scope="module")
def ref():
    return np.load(FIXTURES / "benchmark_metrics.npz")


def _close(actual, expected, rtol=RTOL):
    np.testing.assert_allclose(np.asarray(actual), expected, rtol=rtol, atol=1e-12)


# --- parity with the reference implementations -------------------------------------------


@pytest.mark.parametrize("case", ["1d", "2d", "3d", "3d_bands"])
@jax.enable_x64(True)
def test_pdebench_parity(ref, case):
    data = case.split("_")[0]
    pred, target = ref[f"{data}/pred"].astype(np.float64), ref[f"{data}/target"]
    target = target.astype(np.float64)
    initial_step, length, i_low, i_high = ref[f"{case}/pdebench/args"]
    kw = dict(initial_step=int(initial_step))
    fkw = dict(domain_lengths=float(length), i_low=int(i_low), i_high=int(i_high))
    out = M.pdebench_metrics(pred, target, **kw, **fkw)
    names = {"rmse": "rmse", "nrmse": "nrmse", "crmse": "crmse", "max_error": "max"}
    names["brmse"] = "brmse"
    for ours, theirs in names.items():
        _close(out[ours], ref[f"{case}/pdebench/{theirs}"])
    bands = [out[f"frmse_{b}"] for b in ("low", "mid", "high")]
    _close(jnp.stack(bands), ref[f"{case}/pdebench/frmse"])

    tables = M.pdebench_metrics(pred, target, **kw, **fkw, reduce=False)
    for ours, theirs in names.items():
        expected = ref[f"{case}/pdebench/table/{theirs}"]
        if ours == "brmse" and data == "3d":  # PDEBench keeps [batch, T] there
            expected = expected.mean(axis=0, keepdims=True)
        _close(tables[ours], expected)
    _close(
        M.pdebench_frmse(pred, target, **kw, **fkw, reduce=False),
        ref[f"{case}/pdebench/table/frmse"],
    )


@pytest.mark.parametrize("case", ["1d", "2d", "3d"])
@jax.enable_x64(True)
def test_the_well_parity(ref, case):
    pred, target = (ref[f"{case}/{k}"].astype(np.float64) for k in ("pred", "target"))
    d = pred.ndim - 3
    ours = {
        "MSE": M.well_mse,
        "RMSE": M.well_rmse,
        "NMSE": M.well_nmse,
        "NRMSE": M.well_nrmse,
        "VRMSE": M.well_vrmse,
        "MAE": M.well_mae,
        "LInfinity": M.well_linf,
        "PearsonR": M.well_pearson_r,
    }
    for name, fn in ours.items():
        _close(fn(pred, target, n_spatial_dims=d), ref[f"{case}/the_well/{name}"])
    mse, nmse = M.well_binned_spectral_mse(pred, target, n_spatial_dims=d)
    _close(mse, ref[f"{case}/the_well/binned_mse"])
    _close(nmse, ref[f"{case}/the_well/binned_nmse"])


@pytest.mark.parametrize("case", ["1d", "2d", "3d"])
@jax.enable_x64(True)
def test_pdearena_correlation_parity(ref, case):
    pred, target = (ref[f"{case}/{k}"].astype(np.float64) for k in ("pred", "target"))
    _close(M.pearson_correlation(pred, target), ref[f"{case}/pdearena/corr"])


@pytest.mark.parametrize("groups", ["groups_1_1", "groups_2"])
@jax.enable_x64(True)
def test_poseidon_parity(ref, groups):
    pred, target = (ref[f"2d/{k}"].astype(np.float64) for k in ("pred", "target"))
    pred, target = pred.reshape(-1, *pred.shape[2:]), target.reshape(-1, *target.shape[2:])
    bounds = list(ref[f"2d/poseidon/{groups}/bounds"])
    key = f"2d/poseidon/{groups}"
    _close(M.poseidon_relative_lp(pred, target, bounds), ref[f"{key}/relative_l1"])
    _close(M.poseidon_median_relative_l1(pred, target, bounds), ref[f"{key}/median_relative_l1"])
    _close(
        M.poseidon_relative_lp(pred, target, bounds, p=2, percent=False),
        ref[f"{key}/relative_l2_fraction"],
    )


def test_float32_and_jit_agree_with_the_fixture(ref):
    pred, target = ref["2d/pred"], ref["2d/target"]
    out = jax.jit(M.pdebench_metrics)(jnp.asarray(pred), jnp.asarray(target))
    assert out["rmse"].dtype == jnp.float32
    _close(out["rmse"], ref["2d/pdebench/rmse"], rtol=1e-4)
    _close(out["frmse_high"], ref["2d/pdebench/frmse"][2], rtol=1e-4)
    vr = jax.jit(M.well_vrmse, static_argnames="n_spatial_dims")(pred, target, n_spatial_dims=2)
    _close(vr, ref["2d/the_well/VRMSE"], rtol=1e-4)


# --- analytic cases -----------------------------------------------------------------------


def _traj(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape) + 1.0


@jax.enable_x64(True)
@pytest.mark.parametrize("shape", [(2, 4, 16, 1), (2, 3, 8, 10, 2), (1, 2, 6, 6, 6, 1)])
def test_pdebench_perfect_prediction_is_zero_and_offset_is_exact(shape):
    u = _traj(shape)
    out = M.pdebench_metrics(u, u)
    for name in ("rmse", "nrmse", "crmse", "brmse", "max_error", "frmse_low"):
        assert float(out[name]) == 0.0, name
    c = 0.25
    out = M.pdebench_metrics(u + c, u)
    for name in ("rmse", "crmse", "brmse", "max_error"):
        assert float(out[name]) == pytest.approx(c, rel=1e-12), name
    # A constant offset is the k = 0 mode only: |E_0| = c N, so F[0] = c and the low band,
    # the mean over its first min(4, K) modes or shells, is c / min(4, K).
    space = shape[2:-1]
    n_modes = space[0] // 2 + 1 if len(space) == 1 else min(n // 2 for n in space)
    assert float(out["frmse_low"]) == pytest.approx(c / min(4, n_modes), rel=1e-12)
    if n_modes > 4:
        assert float(out["frmse_mid"]) == pytest.approx(0.0, abs=1e-12)


@jax.enable_x64(True)
def test_pdebench_initial_context_is_not_measured():
    u = _traj((2, 5, 16, 1))
    pred = u.copy()
    pred[:, :2] += 10.0  # errors only inside the context
    assert float(M.pdebench_rmse(pred, u, initial_step=2)) == 0.0
    assert float(M.pdebench_rmse(pred, u, initial_step=1)) > 0.0
    assert M.pdebench_rmse(pred, u, initial_step=2, reduce=False).shape == (1, 3)


@jax.enable_x64(True)
@pytest.mark.parametrize(("k", "band"), [(2, "low"), (7, "mid"), (20, "high")])
def test_pdebench_single_fourier_mode_lands_in_its_band_1d(k, band):
    n = 64
    x = np.arange(n) / n
    target = np.ones((1, 2, n, 1))
    pred = target + np.cos(2 * np.pi * k * x)[None, None, :, None]
    out = M.pdebench_metrics(pred, target)
    # rfft of cos(2 pi k x) has |E_k| = n / 2, so F[k] = 1 / 2; the band mean divides by its width.
    widths = {"low": 4, "mid": 8, "high": n // 2 + 1 - 12}
    for b in ("low", "mid", "high"):
        expected = 0.5 / widths[b] if b == band else 0.0
        assert float(out[f"frmse_{b}"]) == pytest.approx(expected, abs=1e-12), b


@jax.enable_x64(True)
def test_pdebench_2d_shell_binning():
    """Mode (i, j) = (3, 4) has |k| = 5: mid band; (12, 9) has |k| = 15: high band."""
    nx, ny = 32, 40
    x, y = np.meshgrid(np.arange(nx) / nx, np.arange(ny) / ny, indexing="ij")
    target = np.zeros((1, 2, nx, ny, 1))
    for (i, j), band in (((3, 4), "mid"), ((12, 9), "high"), ((1, 2), "low")):
        wave = np.cos(2 * np.pi * (i * x + j * y))[None, None, :, :, None]
        out = M.pdebench_frmse(target + wave, target)
        # fftn of the cosine: |E| = nx ny / 2 at (i, j) (and at (-i, -j), outside the quadrant).
        widths = {"low": 4, "mid": 8, "high": min(nx, ny) // 2 - 12}
        expected = {b: (0.5 / widths[b] if b == band else 0.0) for b in widths}
        np.testing.assert_allclose(
            np.asarray(out), [expected["low"], expected["mid"], expected["high"]], atol=1e-12
        )


def test_pdebench_empty_band_is_nan_as_in_pdebench():
    u = _traj((1, 2, 8, 8, 1))
    out = np.asarray(M.pdebench_frmse(u + 1.0, u))  # 4 shells: the mid and high bands are empty
    assert np.isfinite(out[0]) and np.isnan(out[1:]).all()


@jax.enable_x64(True)
def test_pdebench_brmse_uses_only_the_boundary():
    u = _traj((1, 2, 10, 12, 1))
    pred = u.copy()
    pred[:, :, 1:-1, 1:-1] += 5.0  # interior only
    assert float(M.pdebench_brmse(pred, u)) == 0.0
    pred = u.copy()
    pred[:, :, 0, :] += 1.0  # one edge of 12 points, corners shared with the y edges
    # squares: 12 on the x = 0 edge plus its 2 corners again on the y edges; 2*10 + 2*12 points.
    assert float(M.pdebench_brmse(pred, u)) == pytest.approx(np.sqrt(14 / 44), rel=1e-12)


@jax.enable_x64(True)
def test_the_well_identities():
    u = _traj((2, 3, 16, 12, 2))
    n = 16 * 12
    kw = dict(n_spatial_dims=2)
    for fn in (M.well_mse, M.well_rmse, M.well_nmse, M.well_vrmse, M.well_mae, M.well_linf):
        assert float(jnp.max(fn(u, u, **kw))) == 0.0
    # Biased covariance over unbiased standard deviations: a perfect match scores (N - 1) / N.
    np.testing.assert_allclose(M.well_pearson_r(u, u, **kw), (n - 1) / n, rtol=1e-6)
    # NMSE is invariant to scaling prediction and target together (eps aside).
    a = M.well_nmse(1.1 * u, u, **kw)
    np.testing.assert_allclose(M.well_nmse(1e3 * 1.1 * u, 1e3 * u, **kw), a, rtol=1e-6)
    # Predicting the spatial mean gives VRMSE sqrt((N - 1) / N).
    mean = jnp.broadcast_to(jnp.mean(u, axis=(2, 3), keepdims=True), u.shape)
    np.testing.assert_allclose(M.well_vrmse(mean, u, **kw), np.sqrt((n - 1) / n), rtol=1e-6)
    c = 0.3
    np.testing.assert_allclose(M.well_rmse(u + c, u, **kw), c, rtol=1e-12)
    np.testing.assert_allclose(M.well_linf(u + c, u, **kw), c, rtol=1e-12)
    assert M.well_mse(u, u, **kw).shape == (2, 3, 2)
    assert M.well_mse(u[:, 0], u[:, 0], **kw).shape == (2, 2)  # fields work too


@jax.enable_x64(True)
def test_the_well_spectral_bins_sum_to_mse_and_locate_a_mode():
    n = 64
    u = _traj((2, 1, n, n, 1))
    e = 0.1 * _traj((2, 1, n, n, 1), seed=1)
    mse, _ = M.well_binned_spectral_mse(u + e, u, n_spatial_dims=2)
    np.testing.assert_allclose(mse.sum(axis=-2), M.well_mse(u + e, u, n_spatial_dims=2), rtol=1e-6)
    edges = M.default_spectral_bins((n, n))
    x, y = np.meshgrid(np.arange(n) / n, np.arange(n) / n, indexing="ij")
    for k in (1, 6, 20):  # |k| = 2 pi k / n per grid spacing
        wave = np.cos(2 * np.pi * k * x)[None, None, :, :, None]
        mse, nmse = M.well_binned_spectral_mse(u + wave, u, n_spatial_dims=2)
        expected_bin = np.searchsorted(edges, 2 * np.pi * k / n, side="right") - 1
        per_bin = np.asarray(mse)[0, 0, :, 0]
        assert int(np.argmax(per_bin)) == expected_bin
        assert per_bin[expected_bin] == pytest.approx(0.5, rel=1e-6)  # mean of cos^2
        assert np.delete(per_bin, expected_bin).max() < 1e-20
    assert set(np.searchsorted(edges, 2 * np.pi * np.array([1, 6, 20]) / n, side="right") - 1) == {
        0,
        1,
        2,
    }


@jax.enable_x64(True)
def test_poseidon_median_not_mean_and_groups():
    rng = np.random.default_rng(3)
    target = rng.standard_normal((5, 8, 8, 3)) + 2.0
    scale = np.array([0.01, 0.02, 0.03, 0.04, 10.0])[:, None, None, None]  # one outlier
    pred = target + scale * np.abs(target)
    rel = M.poseidon_relative_lp(pred, target, [0, 1, 3])
    np.testing.assert_allclose(rel, np.repeat(100 * scale[:, 0, 0], 2, axis=1), rtol=1e-12)
    med = M.poseidon_median_relative_l1(pred, target, [0, 1, 3])
    np.testing.assert_allclose(med, [3.0, 3.0], rtol=1e-12)  # the mean would be 202
    # A zero target group divides by 1e-10, as Poseidon does.
    zero = np.zeros((1, 4, 4, 1))
    assert float(M.poseidon_relative_lp(zero + 1e-12, zero, percent=False)[0, 0]) == (
        pytest.approx(16e-12 / 1e-10)
    )
    with pytest.raises(ValueError, match="channel_groups"):
        M.poseidon_relative_lp(pred, target, [0, 2, 2])


@jax.enable_x64(True)
def test_pearson_correlation_values():
    u = _traj((3, 4, 32, 2))
    np.testing.assert_allclose(M.pearson_correlation(u, u), 1.0, rtol=1e-12)
    np.testing.assert_allclose(M.pearson_correlation(-2 * u + 5, u), -1.0, rtol=1e-12)
    np.testing.assert_allclose(M.pearson_correlation(3 * u + 1, u), 1.0, rtol=1e-12)
    flat = np.ones_like(u)
    assert float(jnp.max(jnp.abs(M.pearson_correlation(flat, u)))) == 0.0  # clamp, no nan


def test_high_correlation_time_of_a_decaying_sequence():
    steps = np.arange(20)
    mean_corr = np.exp(-steps / 10.0)  # > 0.95 for t <= 0, > 0.9 for t <= 1, > 0.8 for t <= 2
    corr = np.stack([mean_corr - 0.01, mean_corr + 0.01])  # [batch, time], averages back
    times = M.high_correlation_time(corr, dt=0.8)
    np.testing.assert_allclose(times, [3 * 0.8, 2 * 0.8, 1 * 0.8], rtol=1e-6)
    assert float(M.high_correlation_time(corr, 0.9)) == 2.0
    # A correlation that dips and recovers: pdearena counts steps, "first" stops at the dip.
    bumpy = np.array([0.99, 0.97, 0.85, 0.97, 0.5])
    assert float(M.high_correlation_time(bumpy, 0.95)) == 3.0
    assert float(M.high_correlation_time(bumpy, 0.95, rule="first")) == 2.0
    assert float(M.high_correlation_time(bumpy, 0.1, rule="first")) == 5.0


def test_shape_errors_name_the_argument():
    u = np.zeros((2, 3, 8, 1))
    with pytest.raises(ValueError, match="pred has shape"):
        M.pdebench_rmse(u, u[:, :2])
    with pytest.raises(ValueError, match="initial_step"):
        M.pdebench_rmse(u, u, initial_step=3)
    with pytest.raises(ValueError, match="target must be a trajectory"):
        M.pdebench_rmse(u[:, 0], u[:, 0])
    with pytest.raises(ValueError, match="n_spatial_dims"):
        M.well_mse(u, u, n_spatial_dims=4)
    with pytest.raises(ValueError, match="norm_mode"):
        M.well_nmse(u, u, n_spatial_dims=1, norm_mode="max")
    with pytest.raises(ValueError, match="domain_lengths"):
        M.pdebench_frmse(u, u, domain_lengths=(1.0, 2.0))
