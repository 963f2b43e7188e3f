"""Error metrics of finite-element functions, given by their DOFs in a Lagrange space.

A function ``v_h = sum_i v_i phi_i`` of a :class:`~opjax.fem.space.LagrangeSpace` is given
by its DOF vector ``v [n_dofs]``, and its integral norms are quadratic forms of the space's
mass matrix ``M_ij = (phi_i, phi_j)_L2`` and stiffness matrix
``K_ij = (grad phi_i, grad phi_j)_L2``, exact for the finite-element function:

    ||v_h||_L2^2 = v^T M v
    |v_h|_H1^2   = v^T K v              (the H1 seminorm, ||grad v_h||_L2^2)
    ||v_h||_H1^2 = v^T (M + K) v        (the full H1 norm, ||v_h||_L2^2 + |v_h|_H1^2)

With ``e = pred - ref``, the relative errors are ``||e|| / (||ref|| + eps)`` in each norm
(``eps = 1e-8`` as in :mod:`.relative`, so a zero reference gives a finite number), and the
boundary error is ``max_{i on the boundary} |e_i|``, the largest error at the boundary DOFs:
for P1, linear on each boundary edge, the maximum of ``|e_h|`` over the whole boundary; for
P2 its maximum over the boundary's vertices and edge midpoints.

Every metric takes DOF arrays ``[..., n_dofs]`` (any leading axes; or the DOFs on another
``axis``, as in opjax's channels-last ``[batch, n_dofs, channels]`` with ``axis=-2``) and
returns one value per function, the shape with the DOF axis removed. The matrices are built
once per space, in :meth:`FiniteElementNorms.of`; the object is a pytree (the matrices its
leaves, the space static), so it can be passed to or closed over by jitted functions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import sparse as jsparse

from opjax.metrics.relative import EPS

if TYPE_CHECKING:  # importing opjax.metrics does not import scikit-fem and meshio
    from opjax.fem.space import LagrangeSpace


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True, eq=False)
class FiniteElementNorms:
    """The L2 and H1 norms of one Lagrange space, and the relative and boundary errors in
    them.

    Attributes:
        mass: ``M [n_dofs, n_dofs]`` the mass matrix (BCOO).
        stiffness: ``K [n_dofs, n_dofs]`` the stiffness matrix (BCOO).
        boundary_dofs: ``[n_boundary]`` the indices of the boundary DOFs (int32).
        space: the space (static: it checks the DOF counts and names the space in errors).
    """

    mass: jsparse.BCOO
    stiffness: jsparse.BCOO
    boundary_dofs: jax.Array
    space: LagrangeSpace = dataclasses.field(metadata={"static": True})

    @classmethod
    def of(cls, space: LagrangeSpace, dtype=np.float32) -> FiniteElementNorms:
        """The norms of ``space``, its matrices in ``dtype``."""
        return cls(
            mass=space.mass_matrix(dtype),
            stiffness=space.stiffness_matrix(dtype),
            boundary_dofs=jnp.asarray(space.boundary_dofs, jnp.int32),
            space=space,
        )

    def l2_norm(self, v: jax.Array, axis: int = -1) -> jax.Array:
        """``||v_h||_L2 = sqrt(v^T M v)``: ``[..., n_dofs] -> [...]``."""
        return _sqrt(self._quadratic_form(self.mass, v, axis))

    def h1_seminorm(self, v: jax.Array, axis: int = -1) -> jax.Array:
        """``|v_h|_H1 = ||grad v_h||_L2 = sqrt(v^T K v)``: ``[..., n_dofs] -> [...]``."""
        return _sqrt(self._quadratic_form(self.stiffness, v, axis))

    def h1_norm(self, v: jax.Array, axis: int = -1) -> jax.Array:
        """``||v_h||_H1 = sqrt(v^T (M + K) v)``, the full H1 norm: ``[..., n_dofs] ->
        [...]``."""
        return _sqrt(
            self._quadratic_form(self.mass, v, axis) + self._quadratic_form(self.stiffness, v, axis)
        )

    def relative_l2_error(self, pred: jax.Array, ref: jax.Array, axis: int = -1) -> jax.Array:
        """``||pred_h - ref_h||_L2 / (||ref_h||_L2 + eps)``: ``[..., n_dofs] -> [...]``."""
        return self._relative_error(self.l2_norm, pred, ref, axis)

    def relative_h1_error(self, pred: jax.Array, ref: jax.Array, axis: int = -1) -> jax.Array:
        """``||pred_h - ref_h||_H1 / (||ref_h||_H1 + eps)`` in the full H1 norm
        ``||v_h||_H1^2 = v^T (M + K) v``: ``[..., n_dofs] -> [...]``."""
        return self._relative_error(self.h1_norm, pred, ref, axis)

    def relative_h1_seminorm_error(
        self, pred: jax.Array, ref: jax.Array, axis: int = -1
    ) -> jax.Array:
        """``|pred_h - ref_h|_H1 / (|ref_h|_H1 + eps)`` in the H1 seminorm
        ``|v_h|_H1^2 = v^T K v`` (blind to constant offsets): ``[..., n_dofs] -> [...]``."""
        return self._relative_error(self.h1_seminorm, pred, ref, axis)

    def boundary_max_error(self, pred: jax.Array, ref: jax.Array, axis: int = -1) -> jax.Array:
        """``max_{i on the boundary} |pred_i - ref_i|``: ``[..., n_dofs] -> [...]``."""
        error = jnp.take(self._error(pred, ref, axis), self.boundary_dofs, axis=axis)
        return jnp.max(jnp.abs(error), axis=axis)

    def _error(self, pred: jax.Array, ref: jax.Array, axis: int) -> jax.Array:
        """``pred - ref``, once both are checked to hold the space's DOFs on ``axis``."""
        self.space.check_dofs(pred, "pred", axis)
        self.space.check_dofs(ref, "ref", axis)
        return jnp.asarray(pred) - jnp.asarray(ref)

    def _relative_error(
        self,
        norm: Callable[[jax.Array, int], jax.Array],
        pred: jax.Array,
        ref: jax.Array,
        axis: int,
    ) -> jax.Array:
        """``norm(pred - ref) / (norm(ref) + eps)``."""
        return norm(self._error(pred, ref, axis), axis) / (norm(ref, axis) + EPS)

    def _quadratic_form(self, matrix: jsparse.BCOO, v: jax.Array, axis: int) -> jax.Array:
        """``v^T A v`` for each function of ``v`` (DOFs on ``axis``): ``[...]``."""
        self.space.check_dofs(v, "v", axis)
        v = jnp.moveaxis(jnp.asarray(v), axis, -1)
        functions = v.reshape(-1, self.space.n_dofs)  # [n_functions, n_dofs]
        products = (matrix @ functions.T).T  # [n_functions, n_dofs]
        return jnp.sum(functions * products, axis=-1).reshape(v.shape[:-1])


def _sqrt(squared_norm: jax.Array) -> jax.Array:
    """The square root of a quadratic form of a positive semidefinite matrix, which rounding
    can make slightly negative (``K`` on near-constant functions)."""
    return jnp.sqrt(jnp.maximum(squared_norm, 0.0))
