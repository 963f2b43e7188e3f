"""Exact GELU, written for XLA's CPU compiler, with a hand-written derivative."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

# erf(z) = z P(z^2) / Q(z^2) on |z| <= 4, the rational approximation of Eigen's float32
# erf (coefficients from z^0 upward). Its largest absolute error, about 3e-7, is that of
# XLA's own float32 erf; beyond |z| = 4, erf(z) rounds to +-1 in float32.
_ERF_P = (
    -1.60960333262415e-02,
    -2.95459980854025e-03,
    -7.34990630326855e-04,
    -5.69250639462346e-05,
    -2.10102402082508e-06,
    2.77068142495902e-08,
    -2.72614225801306e-10,
)
_ERF_Q = (
    -1.42647390514189e-02,
    -7.37332916720468e-03,
    -1.68282697438203e-03,
    -2.13374055278905e-04,
    -1.45660718464996e-05,
)
_ERF_CLAMP = 4.0


@jax.custom_vjp
def gelu(x: jax.Array) -> jax.Array:
    """Exact GELU ``x Phi(x)`` with ``Phi`` the standard normal CDF (PyTorch's default).

    Elementwise, any shape. In float32, ``Phi(x) = N(x) / D(x)`` with
    ``N = (Q + z P) / 2``, ``D = Q``, where ``erf(z) = z P(z^2) / Q(z^2)`` (``z = x / sqrt 2``
    clamped to ``[-4, 4]``), and the GELU is evaluated as ``(x N) / D``: its last
    operation is a division. XLA's CPU compiler copies a cheap elementwise producer into
    each consumer that reads it, but not a division, so a GELU'd field is computed once
    and read from memory by all its consumers. With a multiplication last, in a stack of
    FNO blocks (each block's output feeds the next block's Fourier transform, its skip
    product and its soft gate), XLA re-evaluated every block's output in each later
    block: the forward pass of the FNO in ``evaluation/speed/fno_vs_neuralop.py`` took
    22.0 ms that way and 18.0 ms with the division. Its error is that of XLA's float32
    ``erf`` (about 3e-7 absolute on ``erf``). Other dtypes use ``jax.lax.erf``.

    Differentiated (reverse mode only), the forward pass keeps only ``x``; the backward
    pass recomputes ``Phi(x)``, which costs less than storing and reading it back, and
    applies ``d/dx [x Phi(x)] = Phi(x) + x phi(x)``.
    """
    numerator, denominator = _normal_cdf_fraction(x)
    return (x * numerator) / denominator


def _normal_cdf_fraction(x):
    """``(N, D)`` with ``Phi(x) = N / D``: the rational form in float32; in other dtypes
    ``N = Phi(x)`` through ``jax.lax.erf`` and ``D = 1``."""
    if x.dtype != jnp.float32:
        return 0.5 * (1.0 + jax.lax.erf(x * (1.0 / math.sqrt(2.0)))), 1.0
    z = jnp.clip(x * (1.0 / math.sqrt(2.0)), -_ERF_CLAMP, _ERF_CLAMP)
    z2 = z * z
    p, q = _horner(_ERF_P, z2), _horner(_ERF_Q, z2)
    return 0.5 * (q + z * p), q


def _horner(coefficients, t):
    """``sum_i c_i t^i`` for ``coefficients = (c_0, c_1, ...)``."""
    value = coefficients[-1]
    for c in coefficients[-2::-1]:
        value = value * t + c
    return value


def _gelu_forward(x):
    return gelu.fun(x), x


def _gelu_backward(x, g):
    pdf = jnp.exp(-0.5 * x * x) * (1.0 / math.sqrt(2.0 * math.pi))
    numerator, denominator = _normal_cdf_fraction(x)
    return (g * (numerator / denominator + x * pdf),)


gelu.defvjp(_gelu_forward, _gelu_backward)
