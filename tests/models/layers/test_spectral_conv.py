import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.models.layers import SpectralConv
from opjax.models.layers.spectral_conv import kept_frequencies
from tests.jaxprs import primitives


def _params(conv, x, seed=0):
    return jax.jit(conv.init)(jax.random.PRNGKey(seed), x)


def _numpy_reference(x, w_re, w_im, bias, n_modes):
    """Independent float64 implementation: rfftn, multiply each kept mode, irfftn."""
    rank = x.ndim - 2
    axes = tuple(range(1, rank + 1))
    spec = np.fft.rfftn(x.astype(np.float64), axes=axes, norm="forward")
    out = np.zeros(spec.shape[:-1] + (w_re.shape[-1],), complex)
    weight = w_re.astype(np.float64) + 1j * w_im.astype(np.float64)
    freqs = [kept_frequencies(m, real_axis=(a == rank - 1)) for a, m in enumerate(n_modes)]
    for index in np.ndindex(*weight.shape[:rank]):
        ks = [freqs[a][i] for a, i in enumerate(index)]
        grid = x.shape[1:-1]
        # A grid of n points resolves -(n // 2) .. (n - 1) // 2 on the full axes (the
        # Nyquist bin of an even n is -n / 2) and 0 .. n // 2 on the real one.
        full = zip(ks[:-1], grid[:-1])
        if any(not -(n // 2) <= k <= (n - 1) // 2 for k, n in full) or ks[-1] > grid[-1] // 2:
            continue
        position = tuple(k % n for k, n in zip(ks, grid))
        out[(slice(None), *position)] = spec[(slice(None), *position)] @ weight[index]
    y = np.fft.irfftn(out, s=x.shape[1:-1], axes=axes, norm="forward")
    return y + bias.reshape((1,) * (y.ndim - 1) + (-1,))


@pytest.mark.parametrize("method", ["dft", "fft"])
@pytest.mark.parametrize(
    "shape, n_modes",
    [
        ((2, 24, 3), (8,)),
        ((2, 16, 12, 3), (6, 8)),
        ((1, 8, 10, 6, 2), (4, 4, 4)),
        ((2, 6, 3), (12,)),
        # Large enough for the separable (not dense) DFT, whose first axis folds +-k:
        ((1, 72, 64, 2), (6, 8)),  # -3 kept without +3
        ((1, 24, 20, 18, 2), (6, 6, 6)),  # 3D
        ((1, 8, 300, 2), (12, 8)),  # first axis cut to -4..3: Nyquist without a partner
        ((1, 9, 300, 2), (7, 8)),  # odd first axis, -3..3
    ],
)
def test_matches_independent_fft_reference(method, shape, n_modes):
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    conv = SpectralConv(5, n_modes, method)
    params = _params(conv, x)
    p = params["params"]
    y = jax.jit(conv.apply)(params, x)
    expected = _numpy_reference(
        x, np.asarray(p["weight_re"]), np.asarray(p["weight_im"]), np.asarray(p["bias"]), n_modes
    )
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-4, atol=1e-5)


def test_identity_weights_are_an_exact_low_pass_filter():
    """With W(k) = I the layer keeps kept modes and removes all others, analytically."""
    n = 32
    s = np.arange(n) / n
    xx, yy = np.meshgrid(s, s, indexing="ij")
    low = np.cos(2 * np.pi * 2 * xx) + np.sin(2 * np.pi * (3 * yy - xx)) + 0.5
    high = np.cos(2 * np.pi * 7 * xx) + np.sin(2 * np.pi * 9 * yy)
    x = (low + high)[None, :, :, None].astype(np.float32)
    conv = SpectralConv(1, (8, 8), use_bias=False)
    params = _params(conv, x)
    eye = jnp.ones_like(params["params"]["weight_re"])
    params = {"params": {"weight_re": eye, "weight_im": jnp.zeros_like(eye)}}
    for method in ("dft", "fft"):
        y = conv.clone(method=method).apply(params, x)
        np.testing.assert_allclose(np.asarray(y)[0, :, :, 0], low, atol=2e-5)


def test_resolution_invariant_on_band_limited_input():
    """A band-limited field at 16x16 and at 32x32 gives the same function."""

    def field(n):
        s = np.arange(n) / n
        xx, yy = np.meshgrid(s, s, indexing="ij")
        u = np.stack(
            [
                np.sin(2 * np.pi * (xx + 2 * yy)),
                np.cos(2 * np.pi * 3 * xx) * np.sin(2 * np.pi * yy),
            ],
            -1,
        )
        return u[None].astype(np.float32)

    conv = SpectralConv(3, (8, 8))
    params = _params(conv, field(16))
    apply = jax.jit(conv.apply)
    coarse = apply(params, field(16))
    fine = apply(params, field(32))
    np.testing.assert_allclose(np.asarray(fine)[:, ::2, ::2], np.asarray(coarse), atol=1e-5)


@pytest.mark.parametrize(
    "method, shape, n_modes",
    [
        ("dft", (2, 12, 10, 2), (4, 6)),  # the whole transform as one dense matrix
        ("dft", (2, 64, 48, 2), (6, 8)),  # axis by axis, the first axis folded
        ("dft", (1, 24, 20, 16, 2), (4, 4, 4)),
        ("fft", (2, 12, 10, 2), (4, 6)),
    ],
)
def test_gradient_and_forward_mode_match_finite_differences(method, shape, n_modes):
    with jax.enable_x64(True):
        x = jnp.asarray(np.random.default_rng(1).normal(size=shape))
        conv = SpectralConv(2, n_modes, method)
        params = jax.tree.map(lambda a: a.astype(jnp.float64), _params(conv, x))

        @jax.jit
        def loss(p, x):
            return jnp.sum(jnp.sin(conv.apply(p, x)))

        g_params, g_x = jax.jit(jax.grad(loss, argnums=(0, 1)))(params, x)
        rng = np.random.default_rng(2)
        eps = 1e-6
        for _ in range(3):
            direction = jnp.asarray(rng.normal(size=x.shape))
            fd = (loss(params, x + eps * direction) - loss(params, x - eps * direction)) / (2 * eps)
            # atol: the loss sums up to ~8000 terms, so its central difference carries a
            # rounding error of about 1e-16 * 8000 / 1e-6 ~ 1e-6.
            np.testing.assert_allclose(
                float(jnp.sum(g_x * direction)), float(fd), rtol=1e-6, atol=1e-5
            )
        w = params["params"]["weight_im"]
        direction = jnp.asarray(rng.normal(size=w.shape))
        shifted = lambda s: {"params": {**params["params"], "weight_im": w + s * direction}}  # noqa: E731
        fd = (loss(shifted(eps), x) - loss(shifted(-eps), x)) / (2 * eps)
        analytic = float(jnp.sum(g_params["params"]["weight_im"] * direction))
        np.testing.assert_allclose(analytic, float(fd), rtol=1e-6, atol=1e-5)

        # Forward mode along the parameters and the input together: the same number as
        # the gradient's, and as the central difference.
        dparams = jax.tree.map(lambda a: jnp.asarray(rng.normal(size=a.shape)), params)
        dx = jnp.asarray(rng.normal(size=x.shape))
        tangent = jax.jit(lambda p, x, dp, dx: jax.jvp(loss, (p, x), (dp, dx))[1])(
            params, x, dparams, dx
        )
        reverse = sum(
            float(jnp.vdot(g, d))
            for g, d in zip(jax.tree.leaves((g_params, g_x)), jax.tree.leaves((dparams, dx)))
        )
        step = jax.tree.map(lambda a, d: a + eps * d, (params, x), (dparams, dx))
        back = jax.tree.map(lambda a, d: a - eps * d, (params, x), (dparams, dx))
        fd = (loss(*step) - loss(*back)) / (2 * eps)
        np.testing.assert_allclose(float(tangent), reverse, rtol=1e-10)
        np.testing.assert_allclose(float(tangent), float(fd), rtol=1e-6, atol=1e-5)


def test_wrong_rank_is_a_clear_error():
    conv = SpectralConv(2, (4, 4))
    with pytest.raises(
        ValueError, match=r"n_modes=\(4, 4\) expects \[batch, \*space, channels\] with 2"
    ):
        conv.init(jax.random.PRNGKey(0), jnp.zeros((2, 16, 1)))


@pytest.mark.parametrize("method", ["dft", "fft"])
@pytest.mark.parametrize(
    "shape, n_modes",
    [((3, 20, 2), (6,)), ((2, 12, 10, 3), (6, 6)), ((2, 72, 64, 2), (6, 8))],
)
def test_space_major_layout_is_the_same_map(method, shape, n_modes):
    """``space_major=True`` on ``[*space, batch, c]`` equals the channels-last layer, with
    the same parameters (dense-matrix and axis-by-axis DFTs, and the FFT)."""
    x = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    batch_first = SpectralConv(4, n_modes, method)
    params = _params(batch_first, x)
    space_major = SpectralConv(4, n_modes, method, space_major=True)
    rank = len(n_modes)
    y = jax.jit(space_major.apply)(params, np.moveaxis(x, 0, rank))
    expected = jax.jit(batch_first.apply)(params, x)
    np.testing.assert_allclose(np.moveaxis(np.asarray(y), rank, 0), expected, atol=1e-6)


@pytest.mark.parametrize("n_modes, cpu_path", [((4, 4), "dft"), ((32, 4), "fft")])
def test_auto_takes_the_fft_off_cpu_and_the_dft_on_cpu_when_it_pays(n_modes, cpu_path, monkeypatch):
    """``method="auto"``: on CPU the DFT for few modes and the FFT for many (all 32 of a
    32-point axis: more than ``4 log2(32) = 20``); on any other backend the FFT."""
    conv = SpectralConv(2, n_modes)
    x = jnp.zeros((2, 32, 8, 1))
    params = _params(conv, x)
    on_cpu = primitives(jax.make_jaxpr(conv.apply)(params, x).jaxpr)
    assert ("fft" in on_cpu) == (cpu_path == "fft")
    monkeypatch.setattr(jax, "default_backend", lambda: "tpu")
    assert "fft" in primitives(jax.make_jaxpr(conv.apply)(params, x).jaxpr)
