import math

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import erfc

from opjax.models.layers import gelu
from opjax.models.layers.cpu_kernels import gelu_float32
from tests.jaxprs import primitives


def _exact_gelu_and_derivative(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``x Phi(x)`` and ``Phi(x) + x phi(x)`` in float64 (``Phi`` via ``erfc``, which keeps
    the far negative tail accurate)."""
    cdf = 0.5 * erfc(-x / math.sqrt(2.0))
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return x * cdf, cdf + x * pdf


def test_gelu_is_the_exact_erf_gelu_with_its_exact_derivative():
    with jax.enable_x64(True):
        x = jnp.linspace(-6.0, 6.0, 241)
        np.testing.assert_allclose(
            gelu(x), jax.nn.gelu(x, approximate=False), rtol=1e-14, atol=1e-15
        )
        ours = jax.vmap(jax.grad(gelu))(x)
        reference = jax.vmap(jax.grad(lambda v: jax.nn.gelu(v, approximate=False)))(x)
        np.testing.assert_allclose(ours, reference, rtol=1e-12, atol=1e-14)
        eps = 1e-6
        fd = (gelu(x + eps) - gelu(x - eps)) / (2 * eps)
        np.testing.assert_allclose(ours, fd, rtol=1e-7, atol=1e-9)


def test_float32_gelu_is_as_accurate_as_xla_float32_erf():
    x = np.concatenate(
        [np.linspace(-12.0, 12.0, 48001), -np.logspace(-30, 3, 500), np.logspace(-30, 3, 500)]
    ).astype(np.float32)
    value, derivative = _exact_gelu_and_derivative(x.astype(np.float64))
    scale = np.maximum(np.abs(x), 1.0)  # float32 rounding of x itself is ~6e-8 |x|
    for f in (gelu, jax.jit(gelu)):
        ours = np.asarray(f(jnp.asarray(x)), np.float64)
        assert np.max(np.abs(ours - value) / scale) < 4e-7
    lax_gelu = np.asarray(jax.nn.gelu(jnp.asarray(x), approximate=False), np.float64)
    assert np.max(np.abs(lax_gelu - value) / scale) < 4e-7  # the same bound holds for XLA's
    ours = np.asarray(jax.vmap(jax.grad(gelu))(jnp.asarray(x)), np.float64)
    np.testing.assert_allclose(ours, derivative, rtol=0, atol=5e-7)


def test_float32_gelu_propagates_nan_and_infinity():
    out = np.asarray(gelu(jnp.asarray([np.nan, np.inf, 0.0], jnp.float32)))
    assert np.isnan(out[0]) and out[1] == np.inf and out[2] == 0.0


def test_float32_gelu_ends_in_a_division():
    """The last operation is the division ``(x N) / D``: XLA's CPU compiler does not copy
    a division into each consumer fusion (see ``gelu``'s docstring), so a GELU'd field
    is computed once. A rewrite to ``x * Phi`` would keep the numbers and lose that."""
    jaxpr = jax.make_jaxpr(gelu_float32.fun)(jnp.ones(4, jnp.float32)).jaxpr
    assert jaxpr.eqns[-1].primitive.name == "div"


def test_float32_gelu_in_forward_mode_and_to_second_order():
    """``jvp`` and ``jacfwd`` give the exact derivative; the second derivative (forward over
    reverse) is ``2 phi(x) - x^2 phi(x)`` to float32 accuracy."""
    x = np.linspace(-5.0, 5.0, 201).astype(np.float32)
    _, derivative = _exact_gelu_and_derivative(x.astype(np.float64))
    xs = jnp.asarray(x)
    _, tangent = jax.jvp(gelu_float32, (xs,), (jnp.ones_like(xs),))
    np.testing.assert_allclose(tangent, derivative, rtol=0, atol=5e-7)
    np.testing.assert_allclose(jax.vmap(jax.jacfwd(gelu_float32))(xs), tangent, rtol=0, atol=0)
    second = jax.vmap(jax.jacfwd(jax.grad(gelu_float32)))(xs)
    pdf = np.exp(-0.5 * x.astype(np.float64) ** 2) / math.sqrt(2.0 * math.pi)
    np.testing.assert_allclose(second, (2.0 - x.astype(np.float64) ** 2) * pdf, atol=2e-6)


def test_gelu_takes_the_cpu_form_on_cpu_only(monkeypatch):
    x = jnp.ones(4, jnp.float32)
    assert "custom_jvp_call" in primitives(jax.make_jaxpr(gelu)(x).jaxpr)
    with jax.enable_x64(True):  # other dtypes: erf
        float64 = primitives(jax.make_jaxpr(gelu)(np.ones(4)).jaxpr)
    assert "erf" in float64 and "custom_jvp_call" not in float64
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    elsewhere = primitives(jax.make_jaxpr(lambda v: gelu(v))(x).jaxpr)  # a fresh trace
    assert "erf" in elsewhere and "custom_jvp_call" not in elsewhere


def test_float32_sine_and_cosine_match_float64_and_differentiate_exactly():
    from opjax.models.layers import cosine, sine
    from opjax.models.layers.cpu_kernels import cosine_float32, sine_float32

    x = np.linspace(-200.0, 200.0, 400001).astype(np.float32)
    exact = x.astype(np.float64)
    for fast, reference in ((sine_float32, np.sin), (cosine_float32, np.cos)):
        ours = np.asarray(jax.jit(fast)(jnp.asarray(x)), np.float64)
        assert np.max(np.abs(ours - reference(exact))) < 6e-7
    small = jnp.linspace(-3.0, 3.0, 61, dtype=jnp.float32)
    np.testing.assert_allclose(jax.vmap(jax.grad(sine))(small), np.cos(small), atol=4e-7)
    np.testing.assert_allclose(jax.vmap(jax.grad(cosine))(small), -np.sin(small), atol=4e-7)
    second = jax.vmap(jax.hessian(sine))(small)
    np.testing.assert_allclose(second, -np.sin(small), atol=4e-7)
    _, tangent = jax.jvp(cosine, (small,), (jnp.ones_like(small),))
    np.testing.assert_allclose(tangent, -np.sin(small), atol=4e-7)
    with jax.enable_x64(True):  # other dtypes take XLA's sin
        wide = jnp.linspace(-50.0, 50.0, 101)
        np.testing.assert_array_equal(sine(wide), jnp.sin(wide))


def test_float32_sine_is_fused_elementwise_work():
    """No ``sin`` or ``cos`` primitive: XLA's CPU ``sin`` is the slow path it replaces."""
    from opjax.models.layers.cpu_kernels import sine_float32

    names = primitives(jax.make_jaxpr(sine_float32.fun)(jnp.ones(4, jnp.float32)).jaxpr)
    assert not names & {"sin", "cos"}
