"""Domain padding for non-periodic problems.

A Fourier layer treats its input as periodic. For a problem that is not, padding the
hidden field with zeros on both sides of every spatial axis gives the layer room to form
a periodic extension; the padding is cut off before the projection. The pad width on an
axis of ``n`` points is ``round(fraction * n)`` on each side (neuraloperator's symmetric
``DomainPadding``), so it scales with the resolution.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp


def pad_widths(fractions: Sequence[float], shape: Sequence[int]) -> tuple[int, ...]:
    """Pad width per spatial axis."""
    return tuple(round(f * n) for f, n in zip(fractions, shape))


def pad(x: jax.Array, widths: Sequence[int], first_axis: int = 1) -> jax.Array:
    """Zero-pad by ``widths[a]`` on both sides of spatial axis ``a``; the spatial axes start
    at ``first_axis`` (1 for ``[batch, *space, c]``, 0 for ``[*space, batch, c]``)."""
    pads = [(0, 0)] * x.ndim
    for a, w in enumerate(widths):
        pads[first_axis + a] = (w, w)
    return jnp.pad(x, pads)


def unpad(x: jax.Array, widths: Sequence[int], first_axis: int = 1) -> jax.Array:
    """Inverse of :func:`pad`."""
    index = [slice(None)] * x.ndim
    for a, w in enumerate(widths):
        index[first_axis + a] = slice(w, x.shape[first_axis + a] - w)
    return x[tuple(index)]
