"""neuraloperator's relative error metrics on channels-last fields ``[batch, *space, channels]``.

neuraloperator's definitions (``neuralop.losses.LpLoss`` and ``H1Loss``, relative form):
for each sample ``b`` and channel ``c``, with ``e = pred - true``,

    relative Lp:  ||e||_p / (||true||_p + eps),     ||u||_p = (sum_x |u(x)|^p)^(1/p)
    relative H1:  ||e||_H1 / (||true||_H1 + eps),   ||u||_H1^2 = sum_x u^2 + sum_d sum_x (D_d u)^2

with ``eps = 1e-8`` and ``D_d`` the finite difference along spatial axis ``d`` with spacing
``h_d = 1 / n_d`` (the domain is ``[0, 1)^d``): central ``(u_{i+1} - u_{i-1}) / (2 h)``,
wrapped around when the axis is periodic, third-order one-sided at the ends otherwise.
The quadrature weights of the norms cancel in the ratios. The functions here return the
per-sample value ``[batch]``, summed over channels as neuraloperator sums over its batch
and channel axes; the benchmark number is the mean over the test set.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

EPS = 1e-8


def _spatial_axes(u: jax.Array) -> tuple[int, ...]:
    return tuple(range(1, u.ndim - 1))


def relative_lp(pred: jax.Array, true: jax.Array, p: int = 2) -> jax.Array:
    """Relative Lp error per sample ``[batch]`` (summed over channels)."""
    axes = _spatial_axes(true)
    if p == 1:
        diff = jnp.sum(jnp.abs(pred - true), axis=axes)
        norm = jnp.sum(jnp.abs(true), axis=axes)
        return jnp.sum(diff / (norm + EPS), axis=-1)
    diff = jnp.sum(jnp.abs(pred - true) ** p, axis=axes) ** (1.0 / p)
    norm = jnp.sum(jnp.abs(true) ** p, axis=axes) ** (1.0 / p)
    return jnp.sum(diff / (norm + EPS), axis=-1)


def finite_difference(u: jax.Array, axis: int, periodic: bool) -> jax.Array:
    """First derivative of ``u`` along ``axis`` on ``[0, 1)`` with ``h = 1 / n``."""
    n = u.shape[axis]
    h = 1.0 / n
    if periodic:
        return (jnp.roll(u, -1, axis) - jnp.roll(u, 1, axis)) / (2.0 * h)

    def at(i):
        return jax.lax.slice_in_dim(u, i, i + 1, axis=axis)

    interior = (
        jax.lax.slice_in_dim(u, 2, n, axis=axis) - jax.lax.slice_in_dim(u, 0, n - 2, axis=axis)
    ) / (2.0 * h)
    left = (-11 * at(0) + 18 * at(1) - 9 * at(2) + 2 * at(3)) / (6.0 * h)
    right = (-2 * at(n - 4) + 9 * at(n - 3) - 18 * at(n - 2) + 11 * at(n - 1)) / (6.0 * h)
    return jnp.concatenate([left, interior, right], axis=axis)


def relative_h1(
    pred: jax.Array, true: jax.Array, periodic: bool | Sequence[bool] = True
) -> jax.Array:
    """Relative H1 error per sample ``[batch]`` (summed over channels)."""
    axes = _spatial_axes(true)
    if isinstance(periodic, bool):
        periodic = (periodic,) * len(axes)
    if len(periodic) != len(axes):
        raise ValueError(f"periodic has {len(periodic)} entries for {len(axes)} spatial axes")
    err = pred - true
    diff = jnp.sum(err**2, axis=axes)
    norm = jnp.sum(true**2, axis=axes)
    for axis, wrap in zip(axes, periodic):
        diff = diff + jnp.sum(finite_difference(err, axis, wrap) ** 2, axis=axes)
        norm = norm + jnp.sum(finite_difference(true, axis, wrap) ** 2, axis=axes)
    return jnp.sum(jnp.sqrt(diff) / (jnp.sqrt(norm) + EPS), axis=-1)
