"""Fourier neural operator (Li et al., "Fourier Neural Operator for Parametric Partial
Differential Equations", ICLR 2021), in 1D, 2D and 3D, channels-last.

    x [batch, *space, in_channels]
      -> append grid coordinates (optional)          [batch, *space, in + d]
      -> lifting MLP  P                               [batch, *space, hidden]
      -> zero domain padding (optional)
      -> n_layers Fourier blocks
      -> remove padding
      -> projection MLP Q                             [batch, *space, out_channels]

A Fourier block (neuraloperator's post-activation ``FNOBlocks``) maps v to

    h  = sigma( K v + S v )              K: spectral convolution, S: linear skip (no bias)
    v' = sigma( M h + G v )              M: channel MLP, G: soft-gating skip of the block input

with sigma the exact (erf) GELU, omitted after the last block. The spectral convolution
keeps the lowest ``n_modes`` frequencies in every dimension (see
:mod:`opjax.models.layers.spectral_conv`), so the operator is resolution-invariant: weights
trained at 16x16 act on a 32x32 grid.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax

from opjax.models.layers import (
    ChannelMLP,
    PointwiseLinear,
    SoftGating,
    SpectralConv,
    append_grid,
    gelu,
    pad,
    pad_widths,
    unpad,
)
from opjax.models.registry import register

SKIP_TYPES = ("linear", "soft-gating", "identity", "none")


def _skip(kind: str, channels: int, name: str):
    if kind == "linear":
        return PointwiseLinear(channels, use_bias=False, name=name)
    if kind == "soft-gating":
        return SoftGating(name=name)
    if kind == "identity":
        return lambda v: v
    return None


@register("fno")
class FNO(nn.Module):
    """Fourier neural operator ``[batch, *space, in_channels] -> [batch, *space, out_channels]``.

    The spatial rank is ``len(n_modes)``. Defaults are neuraloperator 2.0's ``FNO``.

    Attributes:
        n_modes: kept frequencies per spatial axis (negative and positive together; the
            last axis keeps ``n_modes[-1] // 2 + 1`` non-negative rfft frequencies).
        in_channels: channels of the input field.
        out_channels: channels of the output field.
        hidden_channels: width of the Fourier blocks.
        n_layers: number of Fourier blocks.
        lifting_channel_ratio: hidden width of the lifting MLP, in units of
            ``hidden_channels``; 0 makes the lifting a single linear layer.
        projection_channel_ratio: hidden width of the projection MLP, likewise.
        grid_embedding: append the coordinates on ``[0, 1)^d`` as input channels.
        use_channel_mlp: apply a channel MLP in each block.
        channel_mlp_expansion: hidden width of that MLP relative to ``hidden_channels``.
        channel_mlp_skip: skip around the channel MLP, one of ``SKIP_TYPES``.
        fno_skip: skip around the spectral convolution, one of ``SKIP_TYPES``.
        domain_padding: fraction of each axis zero-padded on both sides (0: none), one
            value or one per axis.
        spectral_method: ``"auto"``, ``"dft"`` or ``"fft"`` (same numbers, different speed).
    """

    n_modes: Sequence[int]
    in_channels: int
    out_channels: int
    hidden_channels: int = 32
    n_layers: int = 4
    lifting_channel_ratio: float = 2.0
    projection_channel_ratio: float = 2.0
    grid_embedding: bool = True
    use_channel_mlp: bool = True
    channel_mlp_expansion: float = 0.5
    channel_mlp_skip: str = "soft-gating"
    fno_skip: str = "linear"
    domain_padding: float | Sequence[float] = 0.0
    spectral_method: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array | None = None, train: bool = False):
        """Apply the operator; ``t`` is accepted for the common model signature and unused."""
        del t, train
        rank = len(self.n_modes)
        if x.ndim != rank + 2:
            raise ValueError(
                f"FNO with n_modes={tuple(self.n_modes)} is {rank}D and expects input "
                f"[batch, {', '.join(['n'] * rank)}, {self.in_channels}]; got shape {x.shape}"
            )
        if x.shape[-1] != self.in_channels:
            raise ValueError(
                f"FNO expects in_channels={self.in_channels} on the last axis; got shape "
                f"{x.shape} with {x.shape[-1]} channels"
            )
        for kind, field in (
            (self.fno_skip, "fno_skip"),
            (self.channel_mlp_skip, "channel_mlp_skip"),
        ):
            if kind not in SKIP_TYPES:
                raise ValueError(f"{field}={kind!r}; expected one of {SKIP_TYPES}")

        if self.grid_embedding:
            x = append_grid(x)
        lifting_width = int(self.lifting_channel_ratio * self.hidden_channels)
        if lifting_width:
            x = ChannelMLP(lifting_width, self.hidden_channels, gelu, name="lifting")(x)
        else:
            x = PointwiseLinear(self.hidden_channels, name="lifting")(x)

        fractions = self.domain_padding
        if isinstance(fractions, (int, float)):
            fractions = (float(fractions),) * rank
        widths = pad_widths(fractions, x.shape[1:-1])
        if any(widths):
            x = pad(x, widths)

        mlp_width = round(self.hidden_channels * self.channel_mlp_expansion)
        for i in range(self.n_layers):
            last = i == self.n_layers - 1
            fno_skip = _skip(self.fno_skip, self.hidden_channels, f"fno_skip_{i}")
            mlp_skip = _skip(self.channel_mlp_skip, self.hidden_channels, f"channel_mlp_skip_{i}")
            conv = SpectralConv(
                self.hidden_channels, self.n_modes, self.spectral_method, name=f"spectral_conv_{i}"
            )
            h = conv(x)
            if fno_skip is not None:
                h = h + fno_skip(x)
            if not last:
                h = gelu(h)
            if self.use_channel_mlp:
                mlp = ChannelMLP(mlp_width, self.hidden_channels, gelu, name=f"channel_mlp_{i}")
                y = mlp(h)
                if mlp_skip is not None:
                    y = y + mlp_skip(x)
                h = y
            x = gelu(h) if not last else h

        if any(widths):
            x = unpad(x, widths)
        projection_width = int(self.projection_channel_ratio * self.hidden_channels)
        return ChannelMLP(projection_width, self.out_channels, gelu, name="projection")(x)
