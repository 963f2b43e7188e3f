"""Errors of a mesh model (SPON, SPON-MG) in the norms of its finite-element space.

For predicted and reference DOFs ``[b, n_dofs, c]`` of one Lagrange space, per sample
(the mean over channels of each channel's error, as the grid metrics do):

    "l2"        ||u_h - v_h||_L2 / ||v_h||_L2,   ||w_h||_L2^2 = w^T M w
    "h1"        ||u_h - v_h||_H1 / ||v_h||_H1,   ||w_h||_H1^2 = w^T (M + K) w
    "boundary"  max over boundary DOFs and channels of |u_i - v_i|

with ``M`` and ``K`` the space's mass and stiffness matrices
(:class:`opjax.metrics.FiniteElementNorms`): the exact norms of the FE functions, on any
mesh, where a grid model's finite differences would not apply. ``boundary`` is zero, to the
last bit, for a model that imposes the Dirichlet data exactly.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from opjax.data.normalizers import Normalizers
from opjax.fem import LagrangeSpace
from opjax.metrics.finite_element import FiniteElementNorms
from opjax.runs.predict import predict


def mesh_errors(norms: FiniteElementNorms, pred: jax.Array, ref: jax.Array) -> dict:
    """``{"l2": [b], "h1": [b], "boundary": [b]}`` for DOFs ``pred, ref [b, n_dofs, c]``."""
    return {
        "l2": jnp.mean(norms.relative_l2_error(pred, ref, axis=1), axis=-1),
        "h1": jnp.mean(norms.relative_h1_error(pred, ref, axis=1), axis=-1),
        "boundary": jnp.max(norms.boundary_max_error(pred, ref, axis=1), axis=-1),
    }


@functools.partial(jax.jit, static_argnames=("model",))
def _errors(model: nn.Module, params, normalizers: Normalizers, norms, x, y, t, z):
    pred = predict(model, params, normalizers, x, t, z)
    return pred, mesh_errors(norms, pred, y)


def make_mesh_error_fn(model: nn.Module, normalizers: Normalizers, space: LagrangeSpace):
    """``errors(params, x, y, t=None, z=None) -> (pred, {"l2", "h1", "boundary"})`` (each
    ``[b]``) for a mesh model bound to ``space``, jitted: the drop-in of
    :func:`opjax.evaluation.evaluate.make_error_fn` for mesh runs."""
    norms = FiniteElementNorms.of(space)

    def errors(params, x, y, t=None, z=None):
        return _errors(model, params, normalizers, norms, x, y, t, z)

    return errors
