"""Unit-Gaussian normalisation of fields, fitted on the training split.

For a field ``u [n, *space, c]`` the per-channel statistics are

    mean_c = mean over (n, *space) of u[..., c]
    std_c  = unbiased standard deviation over the same axes,

and ``encode(u) = (u - mean) / (std + eps)``, ``decode(v) = v (std + eps) + mean``
(neuraloperator's channel-wise ``UnitGaussianNormalizer``, ``eps = 1e-7``). The statistics
are per channel, so one normaliser serves every resolution.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from flax import struct


@struct.dataclass
class UnitGaussianNormalizer:
    """Per-channel affine normalisation; ``mean`` and ``std`` have shape ``[channels]``."""

    mean: np.ndarray
    std: np.ndarray
    eps: float = struct.field(pytree_node=False, default=1e-7)

    @classmethod
    def fit(cls, data: np.ndarray, eps: float = 1e-7) -> UnitGaussianNormalizer:
        """Fit on ``data [n, *space, c]`` (float64 accumulation)."""
        flat = np.asarray(data, np.float64).reshape(-1, data.shape[-1])
        return cls(flat.mean(0).astype(np.float32), flat.std(0, ddof=1).astype(np.float32), eps)

    def _stats(self, ndim: int):
        shape = (1,) * (ndim - 1) + (-1,)
        return jnp.reshape(self.mean, shape), jnp.reshape(self.std, shape) + self.eps

    def encode(self, u):
        mean, scale = self._stats(u.ndim)
        return (u - mean) / scale

    def decode(self, v):
        mean, scale = self._stats(v.ndim)
        return v * scale + mean

    def to_dict(self) -> dict:
        return {
            "mean": np.asarray(self.mean).tolist(),
            "std": np.asarray(self.std).tolist(),
            "eps": self.eps,
        }

    @classmethod
    def from_dict(cls, d: dict) -> UnitGaussianNormalizer:
        return cls(np.asarray(d["mean"], np.float32), np.asarray(d["std"], np.float32), d["eps"])


@struct.dataclass
class Normalizers:
    """The input and target normalisers of a model (either may be absent); a pytree, so it
    can be passed to jitted functions as an argument."""

    x: UnitGaussianNormalizer | None = None
    y: UnitGaussianNormalizer | None = None

    def encode_input(self, x):
        return x if self.x is None else self.x.encode(x)

    def encode_target(self, y):
        return y if self.y is None else self.y.encode(y)

    def decode_output(self, y):
        return y if self.y is None else self.y.decode(y)

    def to_dict(self) -> dict:
        return {k: (None if v is None else v.to_dict()) for k, v in (("x", self.x), ("y", self.y))}

    @classmethod
    def fit(cls, train: dict, *, x: bool, y: bool) -> Normalizers:
        """Normalisers of the input (when ``x``) and the target (when ``y``) fitted on the
        training Sample ``train``."""
        return cls(
            x=UnitGaussianNormalizer.fit(train["x"]) if x else None,
            y=UnitGaussianNormalizer.fit(train["y"]) if y else None,
        )

    @classmethod
    def from_dict(cls, d: dict) -> Normalizers:
        parts = {
            k: (None if d[k] is None else UnitGaussianNormalizer.from_dict(d[k]))
            for k in ("x", "y")
        }
        return cls(**parts)
