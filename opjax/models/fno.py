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

with sigma the exact (erf) GELU, omitted after the last block. Between the lifting and the
projection the hidden field is laid out space-major, ``[*space, batch, hidden]``, where
the spectral convolutions' largest transforms are plain matrix products (see
:mod:`opjax.models.layers.spectral_conv`); inputs and outputs are channels-last.

The spectral convolution keeps the lowest ``n_modes`` frequencies in every dimension (see
:mod:`opjax.models.layers.spectral_conv`), so the operator is resolution-invariant: weights
trained at 16x16 act on a 32x32 grid.

neuraloperator's other block options, with its meaning:

* ``norm``: ``"group_norm"`` (one group, affine) or ``"instance_norm"`` (no affine), two
  per block: ``h = sigma(N_0(K v) + S v)``, ``v' = sigma(N_1(M h + G v))``;
* ``preactivation``: ``u = N_0(sigma(v))``, ``h = N_1(sigma(K u + S u))``,
  ``v' = M h + G u`` (sigma omitted after the last block's spectral part, as above);
* ``stabilizer="tanh"``: the spectral convolution acts on ``tanh(v)`` (skips on ``v``);
* ``factorization``/``rank``/``fixed_rank_modes``/``separable``/``fft_norm``: the spectral
  weights (TFNO is ``factorization="tucker"``), see
  :class:`opjax.models.layers.SpectralConv`.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

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
from opjax.models.layers.pointwise import broadcast_channels
from opjax.models.registry import register

SKIP_TYPES = ("linear", "soft-gating", "identity", "none")
NORMS = (None, "group_norm", "instance_norm")
STABILIZERS = (None, "tanh")


class GroupNorm(nn.Module):
    """``torch.nn.GroupNorm(1, channels)`` on a space-major field ``[*space, batch, c]``:
    normalise each sample over space and channels (biased variance, ``eps``), then a
    per-channel affine map."""

    eps: float = 1e-5

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        axes = (*range(x.ndim - 2), x.ndim - 1)
        mean = jnp.mean(x, axis=axes, keepdims=True)
        var = jnp.mean(jnp.square(x - mean), axis=axes, keepdims=True)
        y = (x - mean) * jax.lax.rsqrt(var + self.eps)
        channels = (x.shape[-1],)
        weight = self.param("weight", nn.initializers.ones, channels).astype(x.dtype)
        bias = self.param("bias", nn.initializers.zeros, channels).astype(x.dtype)
        return y * broadcast_channels(weight, x.ndim) + broadcast_channels(bias, x.ndim)


def instance_norm(x: jax.Array, eps: float = 1e-5) -> jax.Array:
    """``torch.nn.functional.instance_norm`` on ``[*space, batch, c]``: each sample and
    channel over space, no affine."""
    axes = tuple(range(x.ndim - 2))
    mean = jnp.mean(x, axis=axes, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=axes, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps)


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
        fft_norm: ``"forward"``, ``"backward"`` or ``"ortho"`` (same map, see SpectralConv).
        factorization: spectral weights ``None`` (dense), ``"tucker"`` (TFNO), ``"cp"``
            or ``"tt"``.
        rank: of the factorization; a float is a fraction of the dense parameter count
            (tensorly's rule), an int or ints the ranks themselves.
        fixed_rank_modes: leave the input-channel mode of a Tucker weight unfactorized.
        separable: one spectral weight per channel instead of a channel-mixing matrix.
        norm: ``None``, ``"group_norm"`` or ``"instance_norm"`` (two per block).
        preactivation: apply GELU (and norm) before each block's convolution.
        stabilizer: ``None`` or ``"tanh"`` (applied to the spectral convolution's input).
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
    fft_norm: str = "forward"
    factorization: str | None = None
    rank: float | int | Sequence[int] = 1.0
    fixed_rank_modes: bool = False
    separable: bool = False
    norm: str | None = None
    preactivation: bool = False
    stabilizer: str | None = None

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
        if self.norm not in NORMS:
            raise ValueError(f"norm={self.norm!r}; expected one of {NORMS}")
        if self.stabilizer not in STABILIZERS:
            raise ValueError(f"stabilizer={self.stabilizer!r}; expected one of {STABILIZERS}")

        if self.grid_embedding:
            x = append_grid(x)
        # The hidden field is space-major, [*space, batch, c]: see SpectralConv.
        x = jnp.moveaxis(x, 0, rank)
        lifting_width = int(self.lifting_channel_ratio * self.hidden_channels)
        if lifting_width:
            x = ChannelMLP(lifting_width, self.hidden_channels, gelu, name="lifting")(x)
        else:
            x = PointwiseLinear(self.hidden_channels, name="lifting")(x)

        fractions = self.domain_padding
        if isinstance(fractions, (int, float)):
            fractions = (float(fractions),) * rank
        widths = pad_widths(fractions, x.shape[:rank])
        if any(widths):
            x = pad(x, widths, first_axis=0)

        mlp_width = round(self.hidden_channels * self.channel_mlp_expansion)
        for i in range(self.n_layers):
            x = self._block(x, i, mlp_width)

        if any(widths):
            x = unpad(x, widths, first_axis=0)
        projection_width = int(self.projection_channel_ratio * self.hidden_channels)
        y = ChannelMLP(projection_width, self.out_channels, gelu, name="projection")(x)
        return jnp.moveaxis(y, rank, 0)

    def _norm(self, index: int):
        if self.norm == "group_norm":
            return GroupNorm(name=f"norm_{index}")
        if self.norm == "instance_norm":
            return instance_norm
        return lambda v: v

    def _block(self, x: jax.Array, i: int, mlp_width: int) -> jax.Array:
        """Fourier block ``i`` (neuraloperator's ``FNOBlocks.forward``, post- or
        pre-activation)."""
        last = i == self.n_layers - 1
        act = (lambda v: v) if last else gelu
        if self.preactivation:
            x = self._norm(2 * i)(gelu(x))
        fno_skip = _skip(self.fno_skip, self.hidden_channels, f"fno_skip_{i}")
        mlp_skip = _skip(self.channel_mlp_skip, self.hidden_channels, f"channel_mlp_skip_{i}")
        conv = SpectralConv(
            self.hidden_channels,
            self.n_modes,
            self.spectral_method,
            fft_norm=self.fft_norm,
            factorization=self.factorization,
            rank=self.rank,
            fixed_rank_modes=self.fixed_rank_modes,
            separable=self.separable,
            space_major=True,
            name=f"spectral_conv_{i}",
        )
        h = conv(jnp.tanh(x) if self.stabilizer == "tanh" else x)
        if not self.preactivation:
            h = self._norm(2 * i)(h)
        if fno_skip is not None:
            h = h + fno_skip(x)
        h = act(h)
        if self.preactivation:
            h = self._norm(2 * i + 1)(h)
        if self.use_channel_mlp:
            y = ChannelMLP(mlp_width, self.hidden_channels, gelu, name=f"channel_mlp_{i}")(h)
            if mlp_skip is not None:
                y = y + mlp_skip(x)
            h = y
        if not self.preactivation:
            h = act(self._norm(2 * i + 1)(h))
        return h
