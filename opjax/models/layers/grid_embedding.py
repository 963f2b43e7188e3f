"""Grid embedding: append the coordinates of every grid point as extra channels."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def grid_coordinates(shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
    """Coordinates of a uniform periodic grid on ``[0, 1)^d``, shape ``[*shape, d]``.

    Axis ``a`` with ``n`` points has coordinates ``0, 1/n, ..., (n-1)/n``, as
    neuraloperator's ``GridEmbeddingND`` (``linspace(0, 1, n + 1)[:-1]``).
    """
    axes = [jnp.arange(n, dtype=dtype) / n for n in shape]
    return jnp.stack(jnp.meshgrid(*axes, indexing="ij"), axis=-1)


def append_grid(x: jax.Array) -> jax.Array:
    """``[batch, *space, c] -> [batch, *space, c + d]``: input channels, then coordinates."""
    grid = grid_coordinates(x.shape[1:-1], x.dtype)
    grid = jnp.broadcast_to(grid[None], (x.shape[0], *grid.shape))
    return jnp.concatenate([x, grid], axis=-1)
