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


def pad(x: jax.Array, widths: Sequence[int]) -> jax.Array:
    """Zero-pad ``[batch, *space, c]`` by ``widths[a]`` on both sides of spatial axis ``a``."""
    return jnp.pad(x, [(0, 0), *((w, w) for w in widths), (0, 0)])


def unpad(x: jax.Array, widths: Sequence[int]) -> jax.Array:
    """Inverse of :func:`pad`."""
    index = tuple(slice(w, x.shape[a + 1] - w) for a, w in enumerate(widths))
    return x[(slice(None), *index, slice(None))]
