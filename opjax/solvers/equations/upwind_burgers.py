"""Inviscid Burgers with an exponential source, by first-order upwind finite volumes.

The parametrised Burgers problem of model-reduction benchmarks (Rewienski 2003; the 1D
problem of Phi-ROM, Hosseini Dashtbayaz et al. 2025):

    q_t + (q^2 / 2)_x = a exp(mu x),    x in [0, L],   q(0, t) = q(0, 0),

on ``N`` nodes ``x_i = i L / (N - 1)`` (both ends included, ``dx = L / (N - 1)``). For a
positive state the flux is upwinded from the left:

    dq_i/dt = -(q_i^2 / 2 - q_{i-1}^2 / 2) / dx + a exp(mu x_i),   i = 1 .. N-1,
    dq_0/dt = 0,

so the inflow value at ``x = 0`` stays as it starts and the right end is an outflow.
The reference's defaults: ``L = 100``, ``N = 256``, ``a = 0.02``, forward Euler with
``dt = 0.07`` (CFL ``max q dt / dx`` about 0.8 for ``q <= 4.5``). The discrete steady
state is ``q_i^2 = q_0^2 + 2 dx sum_{j=1..i} a exp(mu x_j)``.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from opjax.solvers.equations.explicit import ExplicitEquation


class UpwindBurgers(ExplicitEquation):
    """``q_t + (q^2 / 2)_x = a exp(mu x)`` on ``[0, L]``, inflow held at ``x = 0``.

    Attributes:
        mu: the source's growth rate ``mu`` (traced: differentiable, vmappable).
        points: nodes ``N`` (both ends included).
        length: domain length ``L``.
        amplitude: the source amplitude ``a``.
    """

    mu: float | jax.Array
    points: int = eqx.field(static=True, default=256)
    length: float = eqx.field(static=True, default=100.0)
    amplitude: float = eqx.field(static=True, default=0.02)

    def __check_init__(self):
        if self.points < 2 or not self.length > 0:
            raise ValueError(
                f"UpwindBurgers needs >= 2 points and a positive length; "
                f"got {self.points}, {self.length}"
            )

    @property
    def shape(self) -> tuple[int]:
        return (self.points,)

    @property
    def spacing(self) -> float:
        return self.length / (self.points - 1)

    def coordinates(self) -> np.ndarray:
        """The nodes ``x_i = i L / (N - 1)``, ``[N]`` (float64)."""
        return np.linspace(0.0, self.length, self.points)

    def source(self, dtype=None) -> jax.Array:
        x = jnp.asarray(self.coordinates(), dtype or jnp.result_type(float))
        return self.amplitude * jnp.exp(self.mu * x)

    def vector_field(self, t, u, args=None):
        flux = 0.5 * u * u
        interior = -(flux[..., 1:] - flux[..., :-1]) / self.spacing
        rate = interior + self.source(u.dtype)[1:]
        return jnp.concatenate([jnp.zeros_like(u[..., :1]), rate], axis=-1)

    def steady_state(self, inflow: float | jax.Array, dtype=None) -> jax.Array:
        """The discrete steady state with ``q_0 = inflow``, ``[N]``."""
        s = self.source(dtype)
        cumulative = jnp.concatenate([jnp.zeros_like(s[:1]), jnp.cumsum(s[1:])])
        return jnp.sqrt(inflow**2 + 2.0 * self.spacing * cumulative)
