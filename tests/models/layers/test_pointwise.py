import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.models.layers import ChannelMLP, PointwiseLinear, SoftGating
from opjax.models.layers.pointwise import linear_plus_gated_skip


def _inputs(dtype=jnp.float32):
    keys = jax.random.split(jax.random.key(0), 5)
    x = jax.random.normal(keys[0], (3, 4, 5, 6), dtype)
    kernel = jax.random.normal(keys[1], (6, 7), dtype)
    bias = jax.random.normal(keys[2], (7,), dtype)
    skip = jax.random.normal(keys[3], (3, 4, 5, 7), dtype)
    gate = jax.random.normal(keys[4], (7,), dtype)
    return x, kernel, bias, skip, gate


def _numpy_reference(x, kernel, bias, skip, gate):
    x, kernel, bias, skip, gate = (np.asarray(a, np.float64) for a in (x, kernel, bias, skip, gate))
    return np.einsum("...i,io->...o", x, kernel) + bias + gate * skip


def test_linear_plus_gated_skip_is_x_w_plus_b_plus_gated_skip():
    inputs = _inputs()
    expected = _numpy_reference(*inputs)
    np.testing.assert_allclose(linear_plus_gated_skip(*inputs), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        jax.jit(linear_plus_gated_skip)(*inputs), expected, rtol=1e-5, atol=1e-5
    )


def test_linear_plus_gated_skip_gradients_match_finite_differences():
    with jax.enable_x64(True):
        inputs = _inputs(jnp.float64)
        weights = jax.random.normal(jax.random.key(1), (3, 4, 5, 7), jnp.float64)

        def loss(*args):
            return jnp.sum(weights * linear_plus_gated_skip(*args))

        grads = jax.jit(jax.grad(loss, argnums=tuple(range(5))))(*inputs)
        eps = 1e-6
        for index, (value, grad) in enumerate(zip(inputs, grads)):
            direction = jax.random.normal(jax.random.key(10 + index), value.shape, jnp.float64)
            shifted = list(inputs)
            shifted[index] = value + eps * direction
            upper = loss(*shifted)
            shifted[index] = value - eps * direction
            lower = loss(*shifted)
            np.testing.assert_allclose(
                jnp.vdot(grad, direction), (upper - lower) / (2 * eps), rtol=1e-7
            )


@pytest.mark.parametrize("use_bias", [True, False])
def test_pointwise_linear_with_gated_skip_adds_the_gated_skip(use_bias):
    x, _, _, skip, gate = _inputs()
    layer = PointwiseLinear(7, use_bias=use_bias)
    params = layer.init(jax.random.key(2), x)
    plain = layer.apply(params, x)
    gated = layer.apply(params, x, gated_skip=(skip, gate))
    expected = np.asarray(plain) + np.asarray(gate) * np.asarray(skip)
    np.testing.assert_allclose(gated, expected, rtol=1e-5, atol=1e-5)


def test_channel_mlp_with_soft_gating_weights_matches_mlp_plus_soft_gating():
    x, _, _, skip, _ = _inputs()
    mlp, gating = ChannelMLP(5, 7), SoftGating()
    mlp_params = mlp.init(jax.random.key(3), x)
    gating_params = {"params": {"weight": jnp.linspace(0.5, 2.0, 7)}}
    weights = gating.apply(gating_params, 7, method=SoftGating.weights)
    np.testing.assert_array_equal(weights, gating_params["params"]["weight"])
    separate = mlp.apply(mlp_params, x) + gating.apply(gating_params, skip)
    together = mlp.apply(mlp_params, x, gated_skip=(skip, weights))
    np.testing.assert_allclose(together, separate, rtol=1e-5, atol=1e-5)
    assert gating.init(jax.random.key(4), skip)["params"]["weight"].shape == (7,)
