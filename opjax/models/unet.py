"""Modern U-Net with time and PDE-parameter conditioning (pdearena's ``Unet``, the
PDE-Refiner backbone; Gupta & Brandstetter, "Towards Multi-spatiotemporal-scale Generalized
PDE Modeling", 2022; Lippe et al., "PDE-Refiner", NeurIPS 2023), any spatial rank,
channels-last.

    x [batch, *space, in_channels]
      -> image_proj: 3-wide conv (1x1 with use1x1)              [batch, *space, c_0]
      -> down path, level i = 0..L-1:
           n_blocks x (ResidualBlock -> c_{i+1}, attention if is_attn[i]), each output kept
           Downsample (stride-2 conv) except at the last level, output kept
      -> MiddleBlock: ResidualBlock, attention if mid_attn, ResidualBlock
      -> up path, level i = L-1..0:
           (n_blocks + 1) x (concat the latest kept tensor, ResidualBlock, attention if
           is_attn[i]); the first n_blocks keep the width c_{i+1}, the last goes to c_i
           Upsample (transposed conv) except at level 0
      -> GroupNorm (output_norm_groups) -> activation -> final conv  [batch, *space, out]

Widths multiply *cumulatively*, as in pdearena: ``c_0 = hidden_channels`` and
``c_{i+1} = c_i * ch_mults[i]``, so the default ``(1, 2, 2, 4)`` gives 64, 64, 128, 256, 1024.
Every spatial axis must be divisible by ``2^(L-1)``.

Conditioning. A scalar per sample is embedded as ``sinusoids (hidden_channels wide) ->
Linear -> act -> Linear`` (:class:`~opjax.models.layers.embeddings.ScalarEmbedding`) of
width ``time_embedding_dim`` (default ``4 hidden_channels``). The time ``t`` and each PDE
parameter ``z[:, j]`` have their own embedding; the conditioning vector is their sum, and
every residual block adds a linear map of it to its features (or uses it as FiLM
scale-and-shift with ``use_scale_shift_norm``; see
:class:`~opjax.models.layers.unet_layers.ResidualBlock`). A conditioning input passed as
``None`` contributes zero; with ``time_conditioning=False`` and ``n_condition_params=0`` the
network has no conditioning layers at all and ignores ``t``.

Boundaries. ``padding_mode="circular"`` pads every convolution periodically and, with
``periodic_upsample`` (default), wraps the transposed convolutions too, so the network commutes
with periodic shifts by multiples of ``2^(L-1)`` cells. pdearena's circular models (PDE-Refiner
on KS) pad only the convolutions, PyTorch's transposed convolutions having no circular mode;
``periodic_upsample=False`` reproduces that exactly (needed for converted checkpoints, see
:func:`opjax.convert.pdearena.unet_params_from_pdearena`).
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from opjax.models.layers.embeddings import ScalarEmbedding
from opjax.models.layers.unet_layers import (
    PADDING_MODES,
    SOFTMAX_OVER,
    Conv,
    Downsample,
    MiddleBlock,
    UNetBlock,
    Upsample,
    activation_fn,
    group_norm,
)
from opjax.models.registry import register


@register("unet")
class UNet(nn.Module):
    """Conditioned modern U-Net ``[batch, *space, in_channels] -> [batch, *space, out_channels]``.

    Defaults are pdearena's ``Unetmod`` family (the PDE-Refiner KS backbone
    ``Unetmod-1d-64`` is ``UNet(in_channels=2, out_channels=1, n_condition_params=2,
    padding_mode="circular", periodic_upsample=False)``).

    Attributes:
        in_channels: channels of the input field.
        out_channels: channels of the output field.
        hidden_channels: width after the input projection; also the width of the
            sinusoidal embeddings.
        ch_mults: cumulative width multiplier of each resolution level (its length is the
            number of levels L).
        is_attn: self-attention after each residual block of a level, one flag per level;
            empty means no attention.
        mid_attn: self-attention in the middle block.
        n_blocks: residual blocks per level on the way down (one more on the way up).
        norm: GroupNorm in the residual blocks and before the final convolution.
        norm_groups: groups of the residual blocks' GroupNorms (pdearena: 1).
        output_norm_groups: groups of the GroupNorm before the final convolution (pdearena: 8).
        activation: ``"gelu"`` (exact erf), ``"relu"`` or ``"silu"``.
        padding_mode: ``"circular"`` or ``"zeros"``, for every convolution.
        periodic_upsample: with circular padding, wrap the transposed convolutions too.
        use_scale_shift_norm: condition by ``norm(h) * (1 + scale) + shift`` instead of adding.
        time_conditioning: embed the time ``t``.
        n_condition_params: number of scalar PDE parameters ``z [batch, n]`` to embed.
        time_embedding_dim: width of the conditioning vector (default ``4 hidden_channels``).
        use1x1: 1x1 input projection and final convolution instead of 3-wide ones.
        zero_init_output: start the final convolution at zero (the output is zero at init).
        zero_init_residual: start the second convolution of every residual block at zero.
        attention_softmax_over: ``"queries"`` (pdearena) or ``"keys"`` (standard attention).
    """

    in_channels: int
    out_channels: int
    hidden_channels: int = 64
    ch_mults: Sequence[int] = (1, 2, 2, 4)
    is_attn: Sequence[bool] = ()
    mid_attn: bool = False
    n_blocks: int = 2
    norm: bool = True
    norm_groups: int = 1
    output_norm_groups: int = 8
    activation: str = "gelu"
    padding_mode: str = "circular"
    periodic_upsample: bool = True
    use_scale_shift_norm: bool = False
    time_conditioning: bool = True
    n_condition_params: int = 0
    time_embedding_dim: int | None = None
    use1x1: bool = False
    zero_init_output: bool = True
    zero_init_residual: bool = True
    attention_softmax_over: str = "queries"

    @property
    def conditioned(self) -> bool:
        return self.time_conditioning or self.n_condition_params > 0

    def _check(self, x, t, z):
        levels = len(self.ch_mults)
        if levels == 0:
            raise ValueError("UNet needs at least one level: ch_mults is empty")
        if self.is_attn and len(self.is_attn) != levels:
            raise ValueError(
                f"is_attn={tuple(self.is_attn)} needs one flag per level of "
                f"ch_mults={tuple(self.ch_mults)}"
            )
        if self.padding_mode not in PADDING_MODES:
            raise ValueError(f"padding_mode={self.padding_mode!r}; expected one of {PADDING_MODES}")
        if self.attention_softmax_over not in SOFTMAX_OVER:
            raise ValueError(
                f"attention_softmax_over={self.attention_softmax_over!r}; "
                f"expected one of {SOFTMAX_OVER}"
            )
        activation_fn(self.activation)
        if x.ndim < 3:
            raise ValueError(
                f"UNet expects input [batch, *space, {self.in_channels}]; got shape {x.shape}"
            )
        if x.shape[-1] != self.in_channels:
            raise ValueError(
                f"UNet expects in_channels={self.in_channels} on the last axis; got shape "
                f"{x.shape} with {x.shape[-1]} channels"
            )
        factor = 2 ** (levels - 1)
        if any(n % factor for n in x.shape[1:-1]):
            raise ValueError(
                f"UNet with {levels} levels halves the grid {levels - 1} times: every spatial "
                f"axis must be divisible by {factor}; got shape {x.shape}"
            )
        batch = x.shape[0]
        if t is not None and self.time_conditioning and jnp.shape(t) not in ((), (batch,)):
            raise ValueError(f"t must be a scalar or [batch={batch}]; got shape {jnp.shape(t)}")
        if z is not None:
            n = self.n_condition_params
            if n == 0:
                raise ValueError("z was passed but the UNet has n_condition_params=0")
            shape = jnp.shape(z)
            if not (shape == (batch, n) or (n == 1 and shape == (batch,))):
                raise ValueError(f"z must have shape [batch={batch}, {n}]; got {shape}")

    def _embedding(self, x, t, z):
        """The conditioning vector ``[batch, E]``, or None for an unconditioned network."""
        if not self.conditioned:
            return None
        batch = x.shape[0]
        width = self.time_embedding_dim or 4 * self.hidden_channels
        act = activation_fn(self.activation)
        emb = jnp.zeros((batch, width), x.dtype)
        inputs = []
        if self.time_conditioning:
            if t is not None:
                t = jnp.broadcast_to(jnp.asarray(t), (batch,))
            inputs.append(("time_embed", t))
        if self.n_condition_params:
            columns = None if z is None else jnp.reshape(z, (batch, -1))
            for j in range(self.n_condition_params):
                inputs.append((f"param_embed_{j}", None if z is None else columns[:, j]))
        for name, s in inputs:
            embed = ScalarEmbedding(self.hidden_channels, width, act, name=name)
            if s is not None:
                emb = emb + embed(s).astype(x.dtype)
            elif self.is_initializing():
                # Create the parameters even when initialised without this input.
                embed(jnp.zeros((batch,), x.dtype))
        return emb

    @nn.compact
    def __call__(
        self,
        x: jax.Array,
        t: jax.Array | None = None,
        train: bool = False,
        *,
        z: jax.Array | None = None,
    ) -> jax.Array:
        """Apply the U-Net.

        Args:
            x: input field ``[batch, *space, in_channels]``.
            t: time per sample ``[batch]`` (or a scalar for all); None contributes nothing
                to the conditioning. Ignored when the network is unconditioned.
            train: unused (no dropout or batch statistics).
            z: PDE parameters ``[batch, n_condition_params]`` (``[batch]`` when there is
                one); None contributes nothing.

        Returns:
            ``[batch, *space, out_channels]``.
        """
        del train
        self._check(x, t, z)
        emb = self._embedding(x, t, z)
        levels = len(self.ch_mults)
        is_attn = tuple(self.is_attn) or (False,) * levels
        block = dict(
            activation=self.activation,
            norm=self.norm,
            norm_groups=self.norm_groups,
            use_scale_shift_norm=self.use_scale_shift_norm,
            padding_mode=self.padding_mode,
            zero_init=self.zero_init_residual,
            softmax_over=self.attention_softmax_over,
        )
        proj_width = 1 if self.use1x1 else 3
        x = Conv(
            self.hidden_channels, proj_width, padding_mode=self.padding_mode, name="image_proj"
        )(x)

        kept = [x]
        width = self.hidden_channels
        index = 0
        for i, mult in enumerate(self.ch_mults):
            width = width * mult
            for _ in range(self.n_blocks):
                x = UNetBlock(width, is_attn[i], **block, name=f"down_{index}")(x, emb)
                kept.append(x)
                index += 1
            if i < levels - 1:
                x = Downsample(self.padding_mode, name=f"down_{index}")(x)
                kept.append(x)
                index += 1

        x = MiddleBlock(self.mid_attn, **block, name="middle")(x, emb)

        index = 0
        for i in reversed(range(levels)):
            for j in range(self.n_blocks + 1):
                if j == self.n_blocks:
                    width = width // self.ch_mults[i]
                x = jnp.concatenate([x, kept.pop()], axis=-1)
                x = UNetBlock(width, is_attn[i], **block, name=f"up_{index}")(x, emb)
                index += 1
            if i > 0:
                periodic = self.padding_mode == "circular" and self.periodic_upsample
                x = Upsample(periodic, name=f"up_{index}")(x)
                index += 1

        if self.norm:
            x = group_norm(self.output_norm_groups, "norm")(x)
        x = activation_fn(self.activation)(x)
        return Conv(
            self.out_channels,
            proj_width,
            padding_mode=self.padding_mode,
            zero_init=self.zero_init_output,
            name="final",
        )(x)
