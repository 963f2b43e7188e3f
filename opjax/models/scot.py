"""scOT, the scalable Operator Transformer of Poseidon (Herde, Raonic, Rohner, Käppeli,
Molinaro, de Bézenac, Mishra, "Poseidon: Efficient Foundation Models for PDEs", NeurIPS
2024), channels-last; a port of camlab-ethz/poseidon ``scOT/model.py`` that reproduces
its outputs with converted weights (:func:`opjax.convert.from_poseidon`).

With ``G = image_size / patch_size`` tokens per side, ``L = len(depths)`` levels, level
``i`` of width ``C_i = embed_dim 2^i`` on a ``G/2^i`` grid:

    x [b, n, n, in_channels]
      -> Fourier resampling to image_size when n != image_size
      -> embeddings: Conv(p, stride p), norm                      [b, G, G, C_0]
      -> encoder level i = 0..L-1: z_i = blocks_i(h_i);
         h_(i+1) = PatchMerging(z_i + h_i)      (all but the last level)
      -> skips: s_i = ConvNeXt^(skip_connections[i])(z_i)
      -> decoder level i = L-1..0: (h = h + s_i unless i = L-1); h = blocks_i'(h);
         h = PatchUnmerging(h)                  (all but level 0)
      -> patch_recovery: ConvTranspose(p, stride p), Conv 5x5     [b, image, image, out]
      -> (+ x[..., :out_channels] when learn_residual)
      -> Fourier resampling back to n

The decoder's input is ``s_(L-1)``. Every block is a
:class:`~opjax.models.layers.swin_block.SwinBlock` with window ``w_i = min(window_size,
G/2^i)``; where the window is smaller than the level grid, every other block shifts its
windows by ``window_size // 2``: blocks 1, 3, ... in the encoder and, since the reference
builds the decoder's blocks from ``reversed(range(depth))``, decoder blocks ``j`` with
``depth - 1 - j`` odd. Every norm is time-conditioned when ``use_conditioning``
(:class:`~opjax.models.layers.conditional_layer_norm.ConditionalLayerNorm`).

Parameter tree (names mirror the Hugging Face / Poseidon modules, list entries ``k``
become ``name_k``)::

    embeddings/{patch_embeddings/projection, norm}
    encoder/layers_{i}/{blocks_{j}, downsample/{reduction, norm}}
    residual_blocks_{i}_{k}/{dwconv, norm, pwconv1, pwconv2, layer_scale}
    decoder/layers_{k}/{blocks_{j}, upsample/{upsample, norm, mixup}}  (k = L-1-i)
    patch_recovery/{projection, mixup}
    blocks: attention/{self/{query, key, value, logit_scale, continuous_position_bias_mlp_0,
            continuous_position_bias_mlp_2}, output/dense}, layernorm_before,
            intermediate/dense, output/dense, layernorm_after

Naming facts other code relies on: the patch embedding is the top-level subtree
``embeddings`` and the patch recovery ``patch_recovery`` (fine-tuning replaces them when
channel counts change); every time-conditioned norm is a module whose name contains
``norm`` (``norm``, ``layernorm_before``, ``layernorm_after``) holding two ``Dense(1 ->
C)`` submodules ``weight`` and ``bias`` (``gamma(t)`` and ``beta(t)``), and no other
module's name contains ``norm``.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from opjax.models.layers.convnext_block import ConvNeXtBlock
from opjax.models.layers.fourier_resample import fourier_downsample, fourier_upsample
from opjax.models.layers.swin_block import SwinBlock
from opjax.models.layers.swin_patches import (
    PatchEmbeddings,
    PatchMerging,
    PatchRecovery,
    PatchUnmerging,
)
from opjax.models.registry import register

_POSEIDON_COMMON = {
    "image_size": 128,
    "patch_size": 4,
    "in_channels": 4,
    "out_channels": 4,
    "num_heads": (3, 6, 12, 24),
    "skip_connections": (2, 2, 2, 0),
    "window_size": 16,
    "mlp_ratio": 4.0,
    "qkv_bias": True,
    "use_conditioning": True,
    "residual_model": "convnext",
    "layer_norm_eps": 1e-5,
    "learn_residual": False,
}
#: The pretrained Poseidon models' hyperparameters (camlab-ethz/Poseidon-T, -B, -L).
POSEIDON_CONFIGS = {
    "T": {**_POSEIDON_COMMON, "embed_dim": 48, "depths": (4, 4, 4, 4)},
    "B": {**_POSEIDON_COMMON, "embed_dim": 96, "depths": (8, 8, 8, 8)},
    "L": {**_POSEIDON_COMMON, "embed_dim": 192, "depths": (8, 8, 8, 8)},
}


class _Stage(nn.Module):
    """One level: Swin blocks ``blocks_{j}`` at width ``C``, then ``downsample``
    (:class:`PatchMerging` of ``blocks(x) + x``) or ``upsample`` (:class:`PatchUnmerging`
    of ``blocks(x)``) or neither. Returns ``(blocks(x), resampled)``."""

    depth: int
    num_heads: int
    window: int
    shift: int
    shifted_parity: int  # block j is shifted when (j + shifted_parity) % 2 == 1
    resample: str | None  # "downsample", "upsample" or None
    mlp_ratio: float
    qkv_bias: bool
    conditioned: bool
    layer_norm_eps: float

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array | None):
        h = x
        for j in range(self.depth):
            shifted = (j + self.shifted_parity) % 2 == 1
            block = SwinBlock(
                self.num_heads,
                self.window,
                self.shift if shifted else 0,
                self.mlp_ratio,
                self.qkv_bias,
                self.conditioned,
                self.layer_norm_eps,
                name=f"blocks_{j}",
            )
            h = block(h, t)
        if self.resample == "downsample":
            return h, PatchMerging(self.conditioned, name="downsample")(h + x, t)
        if self.resample == "upsample":
            return h, PatchUnmerging(self.conditioned, name="upsample")(h, t)
        return h, h


class _Coder(nn.Module):
    """``layers_{k}``: a sequence of :class:`_Stage` (the ``encoder`` or the ``decoder``).

    The encoder returns every level's block output (the skips); the decoder adds
    ``skips[i]`` before every level but its first and returns the finest output."""

    stages: Sequence[dict]

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array | None, skips: Sequence | None = None):
        outputs = []
        for k, stage in enumerate(self.stages):
            if skips is not None and k > 0:
                x = x + skips[len(self.stages) - 1 - k]
            before, x = _Stage(**stage, name=f"layers_{k}")(x, t)
            outputs.append(before)
        return outputs if skips is None else x


@register("scot")
class ScOT(nn.Module):
    """scOT ``(x [batch, n, n, in_channels], t [batch]) -> [batch, n, n, out_channels]``.

    Hyperparameters are Poseidon's ``ScOTConfig`` (``num_channels`` and
    ``num_out_channels`` are ``in_channels`` and ``out_channels``); the pretrained models'
    values are :data:`POSEIDON_CONFIGS`. Dropout and drop path (zero in Poseidon) are
    left out; ``residual_model="resnet"`` is not supported.

    Attributes:
        in_channels: channels of the input field.
        out_channels: channels of the output field.
        image_size: the grid side the network runs at; other (even) square sizes are
            resampled in Fourier space to it and back.
        patch_size: patch side ``p``; ``image_size`` must be a multiple.
        embed_dim: width ``C_0`` of the finest level.
        depths: Swin blocks per level (encoder and decoder alike).
        num_heads: attention heads per level.
        skip_connections: ConvNeXt blocks on each level's skip (0: identity).
        window_size: attention window side (clipped to each level's grid).
        mlp_ratio: hidden width of the blocks' MLPs relative to their width.
        qkv_bias: biases on the query and value projections.
        use_conditioning: time-conditioned norms; then ``t`` is required.
        residual_model: the skip blocks; only ``"convnext"``.
        layer_norm_eps: epsilon of the blocks' and ConvNeXt norms (patch norms use 1e-5).
        learn_residual: add the input's first ``out_channels`` channels to the output
            (only with ``use_conditioning``, as in the reference).
    """

    in_channels: int
    out_channels: int
    image_size: int = 128
    patch_size: int = 4
    embed_dim: int = 48
    depths: Sequence[int] = (4, 4, 4, 4)
    num_heads: Sequence[int] = (3, 6, 12, 24)
    skip_connections: Sequence[int] = (2, 2, 2, 0)
    window_size: int = 16
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    use_conditioning: bool = True
    residual_model: str = "convnext"
    layer_norm_eps: float = 1e-5
    learn_residual: bool = False

    def _level_grids(self) -> list[int]:
        if self.image_size % self.patch_size:
            raise ValueError(
                f"ScOT image_size={self.image_size} is not a multiple of "
                f"patch_size={self.patch_size}"
            )
        levels = len(self.depths)
        if len(self.num_heads) != levels or len(self.skip_connections) != levels:
            raise ValueError(
                f"ScOT depths={tuple(self.depths)}, num_heads={tuple(self.num_heads)} and "
                f"skip_connections={tuple(self.skip_connections)} need one entry per level"
            )
        if self.residual_model != "convnext":
            raise ValueError(
                f"ScOT residual_model={self.residual_model!r} is not supported; expected 'convnext'"
            )
        grid = self.image_size // self.patch_size
        if grid % 2 ** (levels - 1):
            raise ValueError(
                f"ScOT: {levels} levels halve the {grid}x{grid} token grid {levels - 1} times; "
                f"it must be a multiple of {2 ** (levels - 1)}"
            )
        grids = [grid // 2**i for i in range(levels)]
        for g in grids:
            if g > self.window_size and g % self.window_size:
                raise ValueError(
                    f"ScOT: a {g}x{g} level grid is not a multiple of "
                    f"window_size={self.window_size} (window padding is not supported)"
                )
        return grids

    def _stages(self, grids: list[int], decoder: bool) -> list[dict]:
        stages = []
        levels = range(len(grids) - 1, -1, -1) if decoder else range(len(grids))
        for i in levels:
            depth = self.depths[i]
            if decoder:
                resample = "upsample" if i > 0 else None
            else:
                resample = "downsample" if i < len(grids) - 1 else None
            stages.append(
                {
                    "depth": depth,
                    "num_heads": self.num_heads[i],
                    "window": min(self.window_size, grids[i]),
                    "shift": self.window_size // 2 if grids[i] > self.window_size else 0,
                    # decoder blocks come from reversed(range(depth)): j -> depth - 1 - j
                    "shifted_parity": (depth - 1) % 2 if decoder else 0,
                    "resample": resample,
                    "mlp_ratio": self.mlp_ratio,
                    "qkv_bias": self.qkv_bias,
                    "conditioned": self.use_conditioning,
                    "layer_norm_eps": self.layer_norm_eps,
                }
            )
        return stages

    def _check(self, x: jax.Array, t: jax.Array | None) -> jax.Array | None:
        if x.ndim != 4 or x.shape[-1] != self.in_channels:
            raise ValueError(
                f"ScOT expects input [batch, n, n, {self.in_channels}]; got shape {x.shape}"
            )
        n = x.shape[1]
        if x.shape[2] != n:
            raise ValueError(f"ScOT needs square inputs; got shape {x.shape}")
        if n != self.image_size and (n % 2 or self.image_size % 2):
            raise ValueError(
                f"ScOT resamples a {n}x{n} input to image_size={self.image_size} in Fourier "
                "space, which needs both sizes even"
            )
        if self.learn_residual and self.in_channels < self.out_channels:
            raise ValueError("ScOT learn_residual needs in_channels >= out_channels")
        if not self.use_conditioning:
            return None
        if t is None:
            raise ValueError("ScOT with use_conditioning=True needs lead times t [batch]")
        t = jnp.asarray(t, x.dtype)
        if t.shape not in ((), (x.shape[0],)):
            raise ValueError(f"ScOT lead times t must be [batch]; got shape {t.shape}")
        return jnp.broadcast_to(t, (x.shape[0],))

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array | None = None, train: bool = False):
        """Apply the operator; ``t [batch]`` are the lead times (ignored when
        ``use_conditioning`` is off); ``train`` changes nothing (no dropout)."""
        del train
        t = self._check(x, t)
        grids = self._level_grids()
        n = x.shape[1]
        if n < self.image_size:
            x = fourier_upsample(x, self.image_size)
        elif n > self.image_size:
            x = fourier_downsample(x, self.image_size)

        h = PatchEmbeddings(
            self.embed_dim, self.patch_size, self.use_conditioning, name="embeddings"
        )(x, t)
        skips = _Coder(self._stages(grids, decoder=False), name="encoder")(h, t)
        for i, count in enumerate(self.skip_connections):
            for k in range(count):
                block = ConvNeXtBlock(
                    self.use_conditioning, self.layer_norm_eps, name=f"residual_blocks_{i}_{k}"
                )
                skips[i] = block(skips[i], t)
        decoder = _Coder(self._stages(grids, decoder=True), name="decoder")
        h = decoder(skips[-1], t, skips=skips[:-1])
        y = PatchRecovery(self.out_channels, self.patch_size, name="patch_recovery")(h)

        if self.learn_residual and self.use_conditioning:
            y = y + x[..., : self.out_channels]
        if n > self.image_size:
            y = fourier_upsample(y, n)
        elif n < self.image_size:
            y = fourier_downsample(y, n)
        return y
