"""A mesh model's errors in its space's norms: zero boundary error when the data is exact."""

import jax
import jax.numpy as jnp
import numpy as np

from opjax.data.normalizers import Normalizers
from opjax.evaluation.mesh_evaluation import make_mesh_error_fn
from opjax.fem import LagrangeSpace, l_shape
from opjax.metrics import FiniteElementNorms
from opjax.models import build_model
from opjax.models.on_mesh import on_mesh


def test_errors_are_the_fe_norms_and_the_boundary_error_is_zero():
    space = LagrangeSpace(l_shape(2), 1)
    model = on_mesh(
        build_model(
            "spon", {"in_channels": 2, "width": 8, "n_layers": 1, "dirichlet_channels": [1]}
        ),
        space,
    )
    rng = np.random.default_rng(0)
    y = rng.standard_normal((3, space.n_dofs, 1)).astype(np.float32)
    lift = np.where(space.boundary_mask[None, :, None], y, 0.0)
    x = jnp.asarray(np.concatenate([rng.standard_normal(y.shape), lift], -1), jnp.float32)
    params = model.init(jax.random.PRNGKey(0), x)
    pred, errors = make_mesh_error_fn(model, Normalizers(), space)(params, x, jnp.asarray(y))
    assert np.all(np.asarray(errors["boundary"]) == 0.0)
    norms = FiniteElementNorms.of(space)
    np.testing.assert_allclose(
        errors["l2"], norms.relative_l2_error(pred[..., 0], y[..., 0]), rtol=1e-6
    )
    np.testing.assert_allclose(
        errors["h1"], norms.relative_h1_error(pred[..., 0], y[..., 0]), rtol=1e-6
    )
    assert np.all(np.asarray(errors["l2"]) > 0)
