"""Activations with a backend-specific form: the exact (erf) GELU, PyTorch's default, and
the sine and cosine of coordinate networks."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from opjax.models.layers.cpu_kernels import (
    cosine_float32,
    gelu_float32,
    sine_float32,
    traced_for_cpu,
)


def gelu(x: jax.Array) -> jax.Array:
    """Exact GELU ``x Phi(x)``, ``Phi`` the standard normal CDF; elementwise, any shape.

    float32 on CPU: :func:`opjax.models.layers.cpu_kernels.gelu_float32`, a form written
    for XLA's CPU compiler (see :func:`~opjax.models.layers.cpu_kernels.traced_for_cpu`);
    on other backends and in other dtypes: ``x (1 + erf(x / sqrt 2)) / 2`` with XLA's
    ``erf``. Every autodiff mode applies.
    """
    if x.dtype == jnp.float32 and traced_for_cpu():
        return gelu_float32(x)
    return x * (0.5 * (1.0 + jax.lax.erf(x * (1.0 / math.sqrt(2.0)))))


def sine(x: jax.Array) -> jax.Array:
    """``sin(x)``, elementwise: :func:`~opjax.models.layers.cpu_kernels.sine_float32` for
    float32 on CPU, XLA's ``sin`` otherwise. Every autodiff mode applies."""
    if x.dtype == jnp.float32 and traced_for_cpu():
        return sine_float32(x)
    return jnp.sin(x)


def cosine(x: jax.Array) -> jax.Array:
    """``cos(x)``, elementwise, chosen as :func:`sine` is."""
    if x.dtype == jnp.float32 and traced_for_cpu():
        return cosine_float32(x)
    return jnp.cos(x)
