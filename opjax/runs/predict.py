"""A model's prediction in physical units: normalise the input, apply, decode the output.

``predict(model, params, normalizers, x, t, z) = decode(model.apply(params, encode(x), t=t,
z=z))``, jitted with the model static, so that it compiles once per model and input shape
and every caller (``opjax.load(...).predict``, the evaluation's error functions, rollouts)
shares the compiled program.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax

from opjax.data.normalizers import Normalizers


@functools.partial(jax.jit, static_argnames=("model",))
def predict(model: nn.Module, params, normalizers: Normalizers, x, t=None, z=None):
    """``y [batch, *space, out]`` in physical units for physical ``x [batch, *space, in]``,
    lead times ``t [batch]`` (time-conditioned models) and PDE parameters ``z [batch,
    n_params]`` (parameter-conditioned models; the only ones given ``z``)."""
    extra = {} if z is None else {"z": z}
    return normalizers.decode_output(model.apply(params, normalizers.encode_input(x), t=t, **extra))
