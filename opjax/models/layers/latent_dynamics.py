"""Latent dynamics ``d alpha / dt = psi(alpha, mu)``: an MLP with parameterised swish.

Phi-ROM's dynamics network: the PDE parameters ``mu [p]`` (normalised by the caller) are
mapped by a trainable linear layer to ``[k]`` and concatenated to the latent ``alpha [k]``
(no parameters: the latent alone), then ``depth`` hidden layers of width ``W``, each
followed by its own parameterised swish

    sigma_beta(h) = h sigmoid(h softplus(beta)) / 1.1,    beta a trained scalar (0.5 at init),

and a linear layer back to ``[k]``. All linear layers are PyTorch-uniform initialised.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from opjax.models.layers.pointwise import PointwiseLinear


class ParameterizedSwish(nn.Module):
    """``h sigmoid(h softplus(beta)) / 1.1`` with a trained scalar ``beta``."""

    @nn.compact
    def __call__(self, h: jax.Array) -> jax.Array:
        beta = self.param("beta", nn.initializers.constant(0.5), ())
        return h * jax.nn.sigmoid(h * jax.nn.softplus(beta.astype(h.dtype))) / 1.1


class LatentDynamics(nn.Module):
    """``(alpha [..., k], mu [..., p] or None) -> d alpha / dt [..., k]``.

    Attributes:
        width: hidden width ``W``.
        depth: hidden layers.
    """

    width: int = 64
    depth: int = 4

    @nn.compact
    def __call__(self, latent: jax.Array, params: jax.Array | None = None) -> jax.Array:
        k = latent.shape[-1]
        h = latent
        if params is not None:
            embedded = PointwiseLinear(k, name="params_embedding")(params.astype(latent.dtype))
            h = jnp.concatenate([latent, embedded], axis=-1)
        for i in range(self.depth):
            h = ParameterizedSwish(name=f"swish_{i}")(
                PointwiseLinear(self.width, name=f"layer_{i}")(h)
            )
        return PointwiseLinear(k, name="output")(h)
