import jax
import jax.numpy as jnp
import numpy as np

from opjax.models.layers import gelu


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
