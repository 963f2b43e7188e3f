"""Both modes of autodiff through every registered model (the conformance suite's cases).

For every registered model family, at one spatial rank of the conformance suite's cases
(:mod:`tests.models.test_conformance`; the spectral layer's other ranks and paths are
checked in ``tests/models/layers/test_spectral_conv.py``):

* forward mode (``jax.linearize``, which is ``jax.jvp`` and partial evaluation) against
  central finite differences in float64, along a direction in the parameters and the
  input together;
* a Hessian-vector product (``jax.jvp`` of ``jax.grad``, forward over reverse, as
  ``jax.hessian`` is) against central differences of the gradient, in float64;
* ``jax.jacfwd == jax.jacrev`` in float32, where the CPU kernels of
  :mod:`opjax.models.layers.cpu_kernels` run, on a few input entries.

Every derivative is a jitted program, compiled once per case: compiling dominates.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.models import registered_models
from tests.models.test_conformance import CONFORMANCE, init

# One rank per family: compiling the derivatives dominates the suite's time.
RANKS = {
    "fno": 2,
    "lsm": 1,
    "phirom": 2,
    "refiner": 1,
    "scot": 2,
    "spon": 1,
    "spon_mg": 1,
    "unet": 1,
}
CASES = sorted(RANKS.items())

# Central differences in float64: error ~ EPS^2 |f'''| + 1e-16 |f| / EPS. The step is small
# so that it does not cross a kink (ReLU, max, clip) of a model near the point; a kink
# that close still costs a few 1e-6 relative, hence RTOL (a wrong rule is off by O(1)).
EPS = 1e-7
RTOL = 1e-5
N_ENTRIES = 3  # input entries the float32 Jacobians are taken over


# Parameter trees are handled in numpy on the host: eager JAX operations would compile a
# kernel for every leaf shape, and a jitted helper one large program.
def _float64(tree):
    return jax.tree.map(lambda a: np.asarray(a, np.float64), tree)


def _random_like(tree, seed):
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda a: rng.standard_normal(np.shape(a)), tree)


def _axpy(a, x, y):
    return jax.tree.map(lambda u, v: u + a * v, y, x)


def _assert_close(ours, reference, rtol):
    ours, reference = np.asarray(ours), np.asarray(reference)
    scale = float(np.max(np.abs(reference)))
    assert scale > 0, "the derivative is zero: nothing was checked"
    error = float(np.max(np.abs(ours - reference)))
    assert error <= rtol * scale, f"max error {error:.3e} against max value {scale:.3e}"


def test_every_registered_model_is_covered():
    assert set(RANKS) == set(registered_models())
    assert all(rank in CONFORMANCE[name].hparams for name, rank in CASES)


@pytest.mark.parametrize("name, rank", CASES)
def test_forward_mode_and_hessian_vector_products_match_central_differences(name, rank):
    model, params, x, t, kw = init(name, rank)  # outside x64: the cached float32 case
    with jax.enable_x64(True):
        params, x = _float64(params), x.astype(jnp.float64)
        kw = jax.tree.map(lambda a: a.astype(jnp.float64) if a.dtype == np.float32 else a, kw)
        t = None if t is None else t.astype(jnp.float64)
        v = jax.random.normal(jax.random.PRNGKey(5), x.shape, x.dtype)
        dp = _random_like(params, 6)
        out = jax.eval_shape(lambda: model.apply(params, x, t, **kw))
        weight = jax.random.normal(jax.random.PRNGKey(7), out.shape, out.dtype)

        # Two programs per case, each compiled once: its primal output gives the central
        # differences, its tangent the derivative.
        @jax.jit
        def value_and_tangent(p, u, dp, du):
            """``(f(p, u), J (dp, du))``: the model and its directional derivative along
            ``(dp, du)``, in the parameters and the input at once."""
            value, linear = jax.linearize(lambda p, u: model.apply(p, u, t, **kw), p, u)
            return value, linear(dp, du)

        def gradient(u):
            return jax.grad(lambda u: jnp.sum(weight * jnp.tanh(model.apply(params, u, t, **kw))))(
                u
            )

        @jax.jit
        def gradient_and_hvp(u, du):
            """``(grad L(u), H du)``, forward over reverse."""
            return jax.jvp(gradient, (u,), (du,))

        tangent = value_and_tangent(params, x, dp, v)[1]
        forward = value_and_tangent(_axpy(EPS, dp, params), x + EPS * v, dp, v)[0]
        backward = value_and_tangent(_axpy(-EPS, dp, params), x - EPS * v, dp, v)[0]
        hvp = gradient_and_hvp(x, v)[1]
        gradient_difference = (
            gradient_and_hvp(x + EPS * v, v)[0] - gradient_and_hvp(x - EPS * v, v)[0]
        ) / (2 * EPS)
    _assert_close(tangent, (forward - backward) / (2 * EPS), RTOL)
    _assert_close(hvp, gradient_difference, RTOL)


@pytest.mark.parametrize("name, rank", CASES)
def test_jacfwd_equals_jacrev_in_float32(name, rank):
    model, params, x, t, kw = init(name, rank)
    flat = x.reshape(-1)
    out_size = int(np.prod(jax.eval_shape(lambda: model.apply(params, x, t, **kw)).shape))
    projection = jax.random.normal(jax.random.PRNGKey(8), (3, out_size))

    def sliced(u):
        """The model with the first entries of ``x`` set to ``u``, projected to ``[3]``."""
        y = model.apply(params, flat.at[:N_ENTRIES].set(u).reshape(x.shape), t, **kw)
        return projection @ y.reshape(-1)

    u = flat[:N_ENTRIES]
    forward = jax.jit(jax.jacfwd(sliced))(u)
    reverse = jax.jit(jax.jacrev(sliced))(u)
    assert forward.shape == (3, N_ENTRIES)
    _assert_close(forward, reverse, 1e-4)
