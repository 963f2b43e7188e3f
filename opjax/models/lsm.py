"""Latent Spectral Model (Wu, Hu, Luo, Wang, Long, "Solving High-Dimensional PDEs with
Latent Spectral Models", ICML 2023), in 1D, 2D and 3D, channels-last.

    x [batch, *space, in_channels]
      -> append grid coordinates on [0, 1]^d (optional)   [batch, *space, in + d]
      -> fc0 (pointwise linear)                           [batch, *space, d_model]
      -> zero padding at the end of every axis (optional)
      -> U-Net with n_levels levels; level i has c_i channels and space / 2^i points
      -> outc (pointwise linear)                          [batch, *space, d_model]
      -> remove padding
      -> fc1, exact GELU, fc2                             [batch, *space, out_channels]

The U-Net (:mod:`opjax.models.layers.unet_blocks`) encodes with ``inc = DoubleConv`` and
``down_i = maxpool + DoubleConv``, giving features ``x_1 .. x_n`` with widths
``c_i = d_model 2^(i-1)`` for ``i < n`` and ``c_n = c_(n-1)`` (the bilinear variant halves
the bottom). Before every skip connection (and at the bottom) the features pass through a
neural spectral block (:mod:`opjax.models.layers.neural_spectral_block`): patches of
``patch_size`` points are attended into ``num_token`` latent tokens, transformed by a
learned operator on a ``num_basis``-term sine/cosine basis, and attended back. The decoder
``up_i`` upsamples multilinearly and fuses with the processed skip features:

    y = up_1(... up_(n-1)(P_n x_n, P_(n-1) x_(n-1)) ..., P_1 x_1)

Every level's spatial size (after padding and pooling) must be divisible by
``patch_size``; e.g. 64x64 with patches 4x4 (levels 64, 32, 16, 8, 4) or 85x85 padded by
11 to 96x96 with patches 6x6 (96, 48, 24, 12, 6).

The U-Net uses batch normalisation: its running statistics live in the ``batch_stats``
collection, and a training call needs ``mutable=["batch_stats"]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from opjax.models.layers.activations import gelu
from opjax.models.layers.neural_spectral_block import NeuralSpectralBlock
from opjax.models.layers.pointwise import PointwiseLinear
from opjax.models.layers.unet_blocks import DoubleConv, Down, Up
from opjax.models.registry import register


def closed_grid(shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
    """Coordinates ``linspace(0, 1, n)`` per axis (both ends included), shape ``[*shape, d]``."""
    axes = [np.linspace(0.0, 1.0, n) for n in shape]
    return jnp.asarray(np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1), dtype)


def level_channels(d_model: int, n_levels: int) -> tuple[int, ...]:
    """U-Net level widths, finest first: ``d, 2d, 4d, ..., 2^(n-2) d, 2^(n-2) d``."""
    widths = [d_model * 2**i for i in range(n_levels - 1)]
    return (*widths, widths[-1])


@register("lsm")
class LSM(nn.Module):
    """Latent Spectral Model ``[batch, *space, in_channels] -> [batch, *space, out_channels]``.

    The spatial rank is ``len(patch_size)``. Defaults are the reference's 2D model with its
    Navier-Stokes settings except ``d_model`` (the reference uses 64 for Navier-Stokes and
    Darcy, 32 elsewhere).

    Attributes:
        in_channels: channels of the input field.
        out_channels: channels of the output field.
        d_model: width of the finest U-Net level (``--d-model``).
        num_token: latent tokens per patch (``--num-token``).
        num_basis: sine and cosine terms of the latent spectral operator (``--num-basis``).
        patch_size: patch extent per spatial axis (``--patch-size``, same order).
        padding: zero points appended at the end of each spatial axis before the U-Net and
            removed after it; one value or one per axis in axis order (the reference's
            ``--padding`` string lists the *last* axis first).
        grid_embedding: append the coordinates ``linspace(0, 1, n)`` of every axis as input
            channels (the reference always does).
        num_heads: attention heads in every neural spectral block (the reference's 8).
        n_levels: U-Net levels (the reference's 5: four poolings).
        projection_channels: hidden width of the output projection ``fc1``/``fc2``.
    """

    in_channels: int
    out_channels: int
    d_model: int = 32
    num_token: int = 4
    num_basis: int = 12
    patch_size: Sequence[int] = (4, 4)
    padding: int | Sequence[int] = 0
    grid_embedding: bool = True
    num_heads: int = 8
    n_levels: int = 5
    projection_channels: int = 128

    def _check(self, x: jax.Array) -> tuple[int, ...]:
        rank = len(self.patch_size)
        if x.ndim != rank + 2:
            raise ValueError(
                f"LSM with patch_size={tuple(self.patch_size)} is {rank}D and expects input "
                f"[batch, {', '.join(['n'] * rank)}, {self.in_channels}]; got shape {x.shape}"
            )
        if x.shape[-1] != self.in_channels:
            raise ValueError(
                f"LSM expects in_channels={self.in_channels} on the last axis; got shape "
                f"{x.shape} with {x.shape[-1]} channels"
            )
        padding = self.padding
        if isinstance(padding, int):
            padding = (padding,) * rank
        if len(padding) != rank or any(p < 0 for p in padding):
            raise ValueError(f"LSM padding={padding}; expected {rank} non-negative sizes")
        if self.n_levels < 2:
            raise ValueError(f"LSM n_levels={self.n_levels}; expected at least 2")
        for c in level_channels(self.d_model, self.n_levels):
            if c % self.num_heads:
                raise ValueError(
                    f"LSM d_model={self.d_model}: level width {c} is not divisible by "
                    f"num_heads={self.num_heads}"
                )
        space = [n + p for n, p in zip(x.shape[1:-1], padding)]
        for level in range(self.n_levels):
            if any(n % p for n, p in zip(space, self.patch_size)):
                raise ValueError(
                    f"LSM: U-Net level {level + 1} of input {x.shape} (padding {tuple(padding)}) "
                    f"has spatial size {tuple(space)}, not divisible by "
                    f"patch_size={tuple(self.patch_size)}"
                )
            space = [n // 2 for n in space]
        return tuple(padding)

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array | None = None, train: bool = False):
        """Apply the operator; ``t`` is accepted for the common model signature and unused.

        ``train=True`` normalises with batch statistics and updates the running ones, so it
        needs ``mutable=["batch_stats"]``.
        """
        del t
        padding = self._check(x)
        space = x.shape[1:-1]
        if self.grid_embedding:
            grid = closed_grid(space, x.dtype)
            grid = jnp.broadcast_to(grid[None], (x.shape[0], *grid.shape))
            x = jnp.concatenate([x, grid], axis=-1)
        x = PointwiseLinear(self.d_model, name="fc0")(x)
        if any(padding):
            x = jnp.pad(x, [(0, 0), *((0, p) for p in padding), (0, 0)])

        widths = level_channels(self.d_model, self.n_levels)
        features = [DoubleConv(widths[0], name="inc")(x, train)]
        for i in range(1, self.n_levels):
            features.append(Down(widths[i], name=f"down{i}")(features[-1], train))

        def process(i):
            block = NeuralSpectralBlock(
                self.num_basis,
                tuple(self.patch_size),
                self.num_token,
                self.num_heads,
                name=f"process{i + 1}",
            )
            return block(features[i])

        x = process(self.n_levels - 1)
        for i in range(self.n_levels - 2, -1, -1):
            out = widths[i - 1] if i > 0 else widths[0]
            up = Up(out, name=f"up{self.n_levels - 1 - i}")
            x = up(x, process(i), train)
        x = PointwiseLinear(self.d_model, name="outc")(x)

        if any(padding):
            x = x[(slice(None), *(slice(0, n) for n in space), slice(None))]
        x = gelu(PointwiseLinear(self.projection_channels, name="fc1")(x))
        return PointwiseLinear(self.out_channels, name="fc2")(x)
