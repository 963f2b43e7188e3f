"""Factorized (TFNO) spectral weights, separable weights and ``fft_norm``."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.models import FNO
from opjax.models.layers import SpectralConv
from opjax.models.layers.factorized_weights import cp_rank, tt_rank, tucker_rank


def test_ranks_match_tensorly():
    """Values tensorly-torch gives neuraloperator's (8, 8, 4, 4 // 2 + 1) weight at 0.42."""
    shape = (8, 8, 4, 3)
    assert tucker_rank(shape, 0.42) == (6, 6, 3, 2)
    assert cp_rank(shape, 0.42) == 14
    assert tt_rank(shape, 0.42) == (1, 6, 5, 3, 1)
    assert tucker_rank(shape, 0.42, fixed_modes=[0])[0] == 8
    # ints are ranks, not fractions
    assert tucker_rank(shape, 2) == (2, 2, 2, 2) and cp_rank(shape, 3) == 3
    assert tt_rank(shape, 2) == (1, 2, 2, 2, 1)
    with pytest.raises(ValueError, match="2 entries; expected 4"):
        tucker_rank(shape, (1, 2))


def _numpy_tensor(factorization, p):
    c = {
        k[:-3]: np.asarray(p[k], np.float64) + 1j * np.asarray(p[k[:-3] + "_im"])
        for k in p
        if k.endswith("_re")
    }
    if factorization == "tucker":
        w = c["core"]
        for k in range(w.ndim):
            w = np.moveaxis(np.tensordot(c[f"factor_{k}"], w, axes=(1, k)), 0, k)
        return w
    if factorization == "cp":
        order = len(c) - 1
        w = 0
        for r in range(c["weights"].shape[0]):
            term = c["weights"][r]
            for k in range(order):
                term = np.multiply.outer(term, c[f"factor_{k}"][:, r])
            w = w + term
        return w
    order = len(c)
    w = c["factor_0"][0]
    for k in range(1, order):
        w = np.tensordot(w, c[f"factor_{k}"], axes=1)
    return w[..., 0]


@pytest.mark.parametrize("factorization", ["tucker", "cp", "tt"])
@pytest.mark.parametrize("separable", [False, True])
def test_factorized_conv_equals_dense_conv_with_the_reconstructed_weight(factorization, separable):
    x = np.random.default_rng(0).normal(size=(2, 12, 10, 4)).astype(np.float32)
    conv = SpectralConv(4, (4, 6), factorization=factorization, rank=0.5, separable=separable)
    params = conv.init(jax.random.PRNGKey(0), x)
    p = params["params"]
    w = _numpy_tensor(factorization, {k: v for k, v in p.items() if k != "bias"})
    if separable:  # [c, *modes] -> dense [c, c, *modes]
        w = np.einsum("c...,cd->cd...", w, np.eye(4))
    w = np.moveaxis(w, (0, 1), (-2, -1))
    dense = SpectralConv(4, (4, 6))
    dense_params = {
        "params": {"weight_re": w.real, "weight_im": w.imag, "bias": np.asarray(p["bias"])}
    }
    np.testing.assert_allclose(
        conv.apply(params, x), dense.apply(dense_params, x), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("factorization", ["tucker", "cp", "tt"])
def test_factorized_init_has_the_dense_scale(factorization):
    """tensorly-torch's init: the reconstructed Tucker and CP weights have about the dense
    std; its TT init (reproduced as it is) is smaller by sqrt(prod(ranks))."""
    conv = SpectralConv(32, (8, 8), factorization=factorization, rank=0.5)
    x = jnp.zeros((1, 16, 16, 32))
    p = jax.jit(conv.init)(jax.random.PRNGKey(0), x)["params"]
    w = _numpy_tensor(factorization, {k: v for k, v in p.items() if k != "bias"})
    std = np.sqrt(2 / 64)
    if factorization == "tt":
        std /= np.sqrt(np.prod(tt_rank((32, 32, 8, 5), 0.5)))
    assert 0.5 * std < np.std(w) < 1.5 * std


@pytest.mark.parametrize("method", ["dft", "fft"])
def test_fft_norms_give_the_same_layer(method):
    x = np.random.default_rng(1).normal(size=(2, 16, 12, 3)).astype(np.float32)
    conv = SpectralConv(5, (6, 6), method)
    params = conv.init(jax.random.PRNGKey(0), x)
    y = conv.apply(params, x)
    for norm in ("backward", "ortho"):
        z = conv.clone(fft_norm=norm).apply(params, x)
        np.testing.assert_allclose(z, y, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="fft_norm='none'"):
        conv.clone(fft_norm="none").apply(params, x)


@pytest.mark.parametrize(
    "n_modes, shape, options",
    [
        ((4, 4, 4), (1, 8, 8, 6, 2), dict(factorization="tucker", rank=0.1)),
        ((4, 4), (2, 8, 8, 2), dict(factorization="cp", rank=0.3, separable=True)),
        ((4, 4), (2, 8, 8, 2), dict(factorization="tt", norm="group_norm", preactivation=True)),
        ((4,), (2, 8, 2), dict(norm="instance_norm", stabilizer="tanh", fno_skip="soft-gating")),
    ],
)
def test_fno_options_run_and_differentiate(n_modes, shape, options):
    model = FNO(n_modes, in_channels=2, out_channels=1, hidden_channels=8, n_layers=2, **options)
    x = jnp.asarray(np.random.default_rng(0).normal(size=shape), jnp.float32)
    params = jax.jit(model.init)(jax.random.PRNGKey(0), x)
    y = jax.jit(model.apply)(params, x)
    assert y.shape == (*shape[:-1], 1) and bool(jnp.all(jnp.isfinite(y)))
    if options.get("factorization") == "tucker":  # gradients reach every factor
        grads = jax.jit(jax.grad(lambda p: jnp.sum(model.apply(p, x) ** 2)))(params)
        assert all(bool(jnp.all(jnp.isfinite(g) & (g != 0))) for g in jax.tree.leaves(grads))


def test_tucker_has_fewer_parameters():
    x = jnp.zeros((1, 16, 16, 1))
    count = {}
    for factorization in (None, "tucker"):
        model = FNO(
            n_modes=(8, 8),
            in_channels=1,
            out_channels=1,
            hidden_channels=32,
            factorization=factorization,
            rank=0.1,
        )
        params = jax.eval_shape(model.init, jax.random.PRNGKey(0), x)
        count[factorization] = sum(int(np.prod(a.shape)) for a in jax.tree.leaves(params))
    assert count["tucker"] < 0.5 * count[None]


def test_bad_options_are_named():
    x = jnp.zeros((1, 8, 8, 1))
    for options, match in [
        (dict(norm="batch_norm"), "norm='batch_norm'"),
        (dict(stabilizer="clip"), "stabilizer='clip'"),
        (dict(factorization="svd"), "factorization='svd'"),
    ]:
        model = FNO(n_modes=(4, 4), in_channels=1, out_channels=1, hidden_channels=8, **options)
        with pytest.raises(ValueError, match=match):
            model.init(jax.random.PRNGKey(0), x)
    conv = SpectralConv(3, (4, 4), separable=True)
    with pytest.raises(ValueError, match="separable.*in=2, out=3"):
        conv.init(jax.random.PRNGKey(0), jnp.zeros((1, 8, 8, 2)))
