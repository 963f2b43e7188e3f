"""Exponential time differencing Runge-Kutta schemes (ETDRK1-4) as diffrax solvers.

For a semi-linear system in Fourier space,

    d u_hat / dt = L u_hat + N(t, u_hat),

with ``L`` diagonal (the linear symbol of the PDE) and ``N`` the nonlinear term, the
Cox-Matthews schemes (J. Comput. Phys. 176, 2002) integrate the linear part exactly.
With ``h`` the step, ``z = h L``, ``E = e^z``, ``E2 = e^{z/2}`` and the phi-functions of
:mod:`opjax.solvers.phi_functions` (evaluated by the Kassam-Trefethen contour integral):

    ETDRK1:  u1 = E u + h phi1 N(u)
    ETDRK2:  a = E u + h phi1 N(u);   u1 = a + h phi2 (N(a) - N(u))
    ETDRK3:  a = E2 u + h phi1_half N(u);   b = E u + h phi1 (2 N(a) - N(u))
             u1 = E u + h (f1 N(u) + 4 f2 N(a) + f3 N(b))
    ETDRK4:  a = E2 u + h phi1_half N(u);   b = E2 u + h phi1_half N(a)
             c = E2 a + h phi1_half (2 N(b) - N(u))
             u1 = E u + h (f1 N(u) + 2 f2 (N(a) + N(b)) + f3 N(c))

(``phi1_half = (e^{z/2} - 1) / z``; stage times ``t``, ``t + h/2``, ``t + h/2``, ``t + h``.)
Their global error is ``O(h^p)`` for ETDRKp. The weights are tabulated once for the step
``dt`` the solver is built with, and recomputed inside the step if diffrax hands it a
different one (the last step before a save time, say); a step that differs from ``dt``
only by the rounding of its end times (``4 eps max(|t0|, |t1|)``: about ``5e-5`` for
float32 times near 100) is taken as exactly ``dt``. Everything is traced JAX, so a
solve works under ``jit``, ``vmap`` and ``grad`` (through ``L`` too).

Direction of time. ``diffeqsolve`` with ``t1 < t0`` and ``dt0 < 0`` runs in the normalised
time ``s = sigma t`` (``sigma = -1``), so the solver sees increasing ``s0 < s1``, and wraps
the term in the direction. ETDRK steps the physical equation: from ``t = sigma s0`` by the
signed step ``h = sigma (s1 - s0)``, with the weights of ``z = h L`` and the nonlinear
stages at ``t + h/2`` and ``t + h``. The variation-of-constants formula the schemes
approximate,

    u(t + h) = e^{hL} u(t) + int_0^h e^{(h - r) L} N(t + r, u(t + r)) dr,

holds for either sign of ``h``, so a backward step (``h < 0``, weights of ``e^{-|h| L}``)
is the forward step ``|h|`` of the time-reversed equation ``v' = -L v - N(T - s, v)``,
with the same order. The weights are tabulated for the step ``sigma dt`` of the solve.

A backward solve is exactly as well posed as the problem. Mode ``k`` is multiplied by
``e^{h L_k}``, i.e. ``e^{|h| nu k^2}`` backward for a dissipative ``L = -nu k^2``: over a
backward solve of length ``T``, rounding in the top mode grows by ``e^{nu k_max^2 T}``, and
the weights overflow to ``inf`` once ``|h| nu k_max^2`` passes ~709 (float64; ~88 for
float32). Backward solves are therefore accurate for non-dissipative symbols
(``Re L = 0``: advection, KdV, Schrödinger) and for dissipative ones while
``nu k_max^2 T`` stays well below ``-log(eps)`` (~36 in float64); beyond that the backward
heat equation's answer is the amplified rounding noise it mathematically is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
from diffrax._term import WrapTerm  # diffrax's own solvers unwrap it the same way

from opjax.solvers.grid import PeriodicGrid
from opjax.solvers.phi_functions import PHI_EXPRESSIONS

_NAMES = {
    1: ("exp", "phi1"),
    2: ("exp", "phi1", "phi2"),
    3: ("exp", "exp_half", "phi1", "phi1_half", "f1", "f2", "f3"),
    4: ("exp", "exp_half", "phi1_half", "f1", "f2", "f3"),
}


def etdrk_weights(linear: jax.Array, h, order: int, n_points: int = 64) -> dict[str, jax.Array]:
    """The ETDRK``order`` weights for symbol ``linear`` and step ``h``.

    Real when ``linear`` is real (the contour mean of a real-analytic function at a real
    point is real up to rounding, which is dropped), complex otherwise.
    """
    real = not jnp.iscomplexobj(linear)
    z = jnp.asarray(h * linear).astype(jnp.result_type(linear.dtype, jnp.complex64))
    theta = 2.0 * math.pi * (jnp.arange(n_points) + 0.5) / n_points
    circle = jnp.exp(1j * theta).astype(z.dtype)
    shifted = z[..., None] + circle.reshape((1,) * z.ndim + (-1,))
    out = {"exp": jnp.exp(z)}
    for name in _NAMES[order][1:]:
        out[name] = jnp.mean(PHI_EXPRESSIONS[name](shifted, jnp.exp), axis=-1)
    return {k: v.real if real else v for k, v in out.items()}


class SemiLinearTerm(diffrax.AbstractTerm):
    """``d y_hat / dt = linear * y_hat + nonlinear(t, y_hat, args)`` in spectral space.

    With a ``grid``, the state ``y`` diffrax sees is the real field ``[..., *grid.shape]``
    and ``y_hat = grid.rfft(y)``; without one, the state is itself spectral (a diagonal
    system). Its vector field makes it usable by every diffrax solver; :class:`ETDRK`
    uses the split into ``linear`` and ``nonlinear``. A complex symbol is held as its
    real and imaginary parts, since diffrax expects real arrays in its terms.
    """

    linear_parts: tuple
    nonlinear: Callable
    grid: PeriodicGrid | None = eqx.field(static=True, default=None)

    def __init__(self, linear, nonlinear: Callable, grid: PeriodicGrid | None = None):
        linear = jnp.asarray(linear)
        self.linear_parts = (linear.real, linear.imag) if jnp.iscomplexobj(linear) else (linear,)
        self.nonlinear = nonlinear
        self.grid = grid

    @property
    def linear(self) -> jax.Array:
        return (
            self.linear_parts[0]
            if len(self.linear_parts) == 1
            else jax.lax.complex(*self.linear_parts)
        )

    def to_spectral(self, y):
        return y if self.grid is None else self.grid.rfft(y)

    def to_physical(self, y_hat):
        return y_hat if self.grid is None else self.grid.irfft(y_hat)

    def vf(self, t, y, args):
        y_hat = self.to_spectral(y)
        return self.to_physical(self.linear * y_hat + self.nonlinear(t, y_hat, args))

    def contr(self, t0, t1, **kwargs):
        return t1 - t0

    def prod(self, vf, control):
        return vf * control


class ETDRK(diffrax.AbstractSolver):
    """Cox-Matthews ETDRK of order 1-4 for a :class:`SemiLinearTerm` (fixed steps).

    Attributes:
        order_: 1, 2, 3 or 4.
        dt: the step length (``> 0``) the weights are tabulated for. Use ``dt0 = dt``
            with ``diffrax.ConstantStepSize`` forward (``t0 < t1``) and ``dt0 = -dt``
            backward (``t1 < t0``); the weights are then those of the step ``-dt``.
    """

    order_: int
    dt: float
    term_structure: ClassVar = SemiLinearTerm
    interpolation_cls: ClassVar = diffrax.LocalLinearInterpolation

    def __check_init__(self):
        if self.order_ not in _NAMES:
            raise ValueError(f"ETDRK order must be 1, 2, 3 or 4; got {self.order_}")
        if not isinstance(self.dt, jax.core.Tracer) and not float(self.dt) > 0:
            raise ValueError(
                f"ETDRK dt is a step length and must be > 0; got dt={self.dt}. The direction "
                "comes from diffeqsolve: pass t1 < t0 and dt0 = -dt to integrate backward "
                "in time (the weights are then those of the step -dt)"
            )

    def order(self, terms):
        return self.order_

    def init(self, terms, t0, t1, y0, args):
        """The weights of the step ``sigma dt`` (``sigma``: the solve's direction)."""
        term, direction = _unwrap(terms)
        return _as_real_pairs(etdrk_weights(term.linear, direction * self.dt, self.order_))

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        """One step from the normalised times ``s0 < s1``: physically from
        ``t = sigma s0`` by ``h = sigma (s1 - s0)``."""
        del made_jump
        term, direction = _unwrap(terms)
        t = direction * t0
        h = direction * (t1 - t0)
        dt = jnp.asarray(direction * self.dt, jnp.result_type(h))
        # A step is "dt" when it differs only by the rounding of the times: t1 - t0 of
        # float32 times near t = 100 is off by up to ~1e-5, and recomputing the weights
        # for such steps would make every step pay for the contour integrals.
        rounding = 4 * jnp.finfo(jnp.result_type(h)).eps * jnp.maximum(jnp.abs(t0), jnp.abs(t1))
        is_dt = jnp.abs(h - dt) <= 1e-6 * self.dt + rounding
        w = jax.lax.cond(
            is_dt,
            lambda: solver_state,
            lambda: _as_real_pairs(etdrk_weights(term.linear, h, self.order_)),
        )
        h = jnp.where(is_dt, dt, h)
        w = {
            name: jax.lax.complex(*pair) if isinstance(pair, tuple) else pair
            for name, pair in w.items()
        }
        u1 = _STEPS[self.order_](term.nonlinear, w, t, h, term.to_spectral(y0), args)
        y1 = term.to_physical(u1)
        return y1, None, {"y0": y0, "y1": y1}, solver_state, diffrax.RESULTS.successful

    def func(self, terms, t0, y0, args):
        return terms.vf(t0, y0, args)


def _as_real_pairs(weights: dict) -> dict:
    """Complex weights as (real, imaginary) pairs: diffrax keeps solver state real."""
    return {name: (w.real, w.imag) if jnp.iscomplexobj(w) else w for name, w in weights.items()}


def _unwrap(terms) -> tuple[SemiLinearTerm, jax.Array | int]:
    """The :class:`SemiLinearTerm` inside diffrax's direction wrappers, and the direction
    ``sigma`` (``+1`` forward, ``-1`` backward; traced) that maps solver to physical time."""
    direction = 1
    while isinstance(terms, WrapTerm):
        direction = direction * terms.direction
        terms = terms.term
    if not isinstance(terms, SemiLinearTerm):
        raise TypeError(f"ETDRK needs a SemiLinearTerm; got {type(terms).__name__}")
    return terms, direction


def _etdrk1(n, w, t, h, u, args):
    return w["exp"] * u + h * w["phi1"] * n(t, u, args)


def _etdrk2(n, w, t, h, u, args):
    nu = n(t, u, args)
    a = w["exp"] * u + h * w["phi1"] * nu
    return a + h * w["phi2"] * (n(t + h, a, args) - nu)


def _etdrk3(n, w, t, h, u, args):
    nu = n(t, u, args)
    a = w["exp_half"] * u + h * w["phi1_half"] * nu
    na = n(t + h / 2, a, args)
    b = w["exp"] * u + h * w["phi1"] * (2 * na - nu)
    nb = n(t + h, b, args)
    return w["exp"] * u + h * (w["f1"] * nu + 4 * w["f2"] * na + w["f3"] * nb)


def _etdrk4(n, w, t, h, u, args):
    q = h * w["phi1_half"]
    nu = n(t, u, args)
    a = w["exp_half"] * u + q * nu
    na = n(t + h / 2, a, args)
    b = w["exp_half"] * u + q * na
    nb = n(t + h / 2, b, args)
    c = w["exp_half"] * a + q * (2 * nb - nu)
    nc = n(t + h, c, args)
    return w["exp"] * u + h * (w["f1"] * nu + 2 * w["f2"] * (na + nb) + w["f3"] * nc)


_STEPS = {1: _etdrk1, 2: _etdrk2, 3: _etdrk3, 4: _etdrk4}
