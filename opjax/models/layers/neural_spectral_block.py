"""Neural spectral block of the Latent Spectral Model (Wu et al., "Solving High-Dimensional
PDEs with Latent Spectral Models", ICML 2023), in any spatial rank, channels-last.

The field ``x [batch, *space, C]`` is cut into non-overlapping patches of ``p_1 x ... x p_d``
points; each patch, a set of ``L = prod(p)`` feature vectors, is processed on its own:

1. **Encoder** (attention from learned latent queries to the patch's pixels). With ``H``
   heads of width ``D = C / H``, a 1x1 projection gives keys and values,
   ``[k | v] = W_e x + b_e`` (output channel ``2 (h D + j) + s`` is head ``h``, component
   ``j``, ``s = 0`` key, ``s = 1`` value), and ``T`` learned tokens ``z0 [H, T, D]`` attend:

       z_h = softmax_l( z0_h k_h^T ) v_h + z0_h                    (no 1/sqrt(D) scaling)

2. **Transition** (the neural spectral operator): with ``K`` basis frequencies
   ``w_m = m / K`` (``m = 0..K-1``), every token channel ``c`` is mapped through a learned
   combination of sines and cosines of itself,

       z_c <- z_c + sum_m  A[c, m] sin(pi w_m z_c) + A[c, K + m] cos(pi w_m z_c).

3. **Decoder** (attention from the pixels to the tokens). Queries ``q = W_d x + b_d``; the
   tokens serve as keys and values, and the result is added to the input:

       x_h <- x_h + softmax_t( q_h z_h^T ) z_h.

Parameters (names as in the reference ``NeuralSpectralBlock2d``): ``weights [C, 2K]`` and
``latent [H, T, D]``, both ``U(0, 1/C)``; ``encoder_attn`` (kernel ``[C, 2C]``, bias) and
``decoder_attn`` (kernel ``[C, C]``, bias), 1x1 projections.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from opjax.models.layers.pointwise import PointwiseLinear


def _uniform(high: float):
    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, 0.0, high)

    return init


def patchify(x: jax.Array, patch: Sequence[int]) -> jax.Array:
    """``[b, *n, c] -> [b * prod(n / p), prod(p), c]``: patches on the leading axis."""
    b, *space, c = x.shape
    split = []
    for n, p in zip(space, patch):
        split += [n // p, p]
    rank = len(space)
    x = x.reshape(b, *split, c)
    order = (0, *range(1, 2 * rank, 2), *range(2, 2 * rank + 1, 2), 2 * rank + 1)
    return x.transpose(order).reshape(-1, math.prod(patch), c)


def unpatchify(x: jax.Array, space: Sequence[int], patch: Sequence[int]) -> jax.Array:
    """Inverse of :func:`patchify`: ``[b * prod(n / p), prod(p), c] -> [b, *n, c]``."""
    rank = len(space)
    counts = [n // p for n, p in zip(space, patch)]
    c = x.shape[-1]
    x = x.reshape(-1, *counts, *patch, c)
    order = [0]
    for a in range(rank):
        order += [1 + a, 1 + rank + a]
    order.append(2 * rank + 1)
    return x.transpose(order).reshape(-1, *space, c)


class NeuralSpectralBlock(nn.Module):
    """``[batch, *space, C] -> [batch, *space, C]``, ``space[a]`` divisible by ``patch_size[a]``.

    Attributes:
        num_basis: number ``K`` of sine and of cosine basis functions.
        patch_size: patch extent per spatial axis.
        num_token: number ``T`` of latent tokens per patch.
        num_heads: attention heads ``H`` (must divide ``C``).
    """

    num_basis: int
    patch_size: Sequence[int]
    num_token: int = 4
    num_heads: int = 8

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        _, *space, c = x.shape
        patch = tuple(self.patch_size)
        if len(patch) != len(space) or any(n % p for n, p in zip(space, patch)):
            raise ValueError(
                f"NeuralSpectralBlock with patch_size={patch} needs every spatial size "
                f"divisible by its patch size; got a field of shape {x.shape}"
            )
        heads = self.num_heads
        if c % heads:
            raise ValueError(f"NeuralSpectralBlock: {c} channels do not split into {heads} heads")
        d = c // heads
        weights = self.param("weights", _uniform(1.0 / c), (c, 2 * self.num_basis))
        latent = self.param("latent", _uniform(1.0 / c), (heads, self.num_token, d))
        dtype = x.dtype
        weights, latent = weights.astype(dtype), latent.astype(dtype)

        pixels = patchify(x, patch)  # [N, L, C]
        n, points = pixels.shape[:2]

        # (1) encoder: latent queries attend to the patch's pixels.
        kv = PointwiseLinear(2 * c, name="encoder_attn")(pixels).reshape(n, points, heads, d, 2)
        keys, values = kv[..., 0], kv[..., 1]
        attn = jax.nn.softmax(jnp.einsum("htd,nlhd->nhtl", latent, keys), axis=-1)
        tokens = jnp.einsum("nhtl,nlhd->nthd", attn, values) + latent.transpose(1, 0, 2)[None]
        tokens = tokens.reshape(n, self.num_token, c)  # channel h D + j

        # (2) transition: learned sin/cos basis operator on every token channel.
        freqs = jnp.asarray(np.arange(self.num_basis) / self.num_basis, dtype)
        phase = tokens[..., None] * freqs.reshape(1, 1, 1, -1) * math.pi
        basis = jnp.concatenate([jnp.sin(phase), jnp.cos(phase)], axis=-1)  # [N, T, C, 2K]
        tokens = jnp.einsum("ntcm,cm->ntc", basis, weights) + tokens

        # (3) decoder: pixels attend to the tokens.
        tokens = tokens.reshape(n, self.num_token, heads, d)
        queries = PointwiseLinear(c, name="decoder_attn")(pixels).reshape(n, points, heads, d)
        attn = jax.nn.softmax(jnp.einsum("nlhd,nthd->nhlt", queries, tokens), axis=-1)
        out = jnp.einsum("nhlt,nthd->nlhd", attn, tokens).reshape(n, points, c) + pixels
        return unpatchify(out, space, patch)
