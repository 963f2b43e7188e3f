"""The shape every pseudo-spectral equation shares.

An equation on a periodic :class:`~opjax.solvers.grid.PeriodicGrid` is written in Fourier
space as ``d u_hat / dt = L u_hat + N(t, u_hat)``: :meth:`linear_symbol` gives ``L`` (on
the ``rfftn`` spectrum) and :meth:`nonlinear` gives ``N``. Equations are small immutable
equinox modules, so their coefficients can be traced (and differentiated) while the grid
stays static.
"""

from __future__ import annotations

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp

from opjax.solvers.etdrk import ETDRK, SemiLinearTerm
from opjax.solvers.grid import PeriodicGrid


class SemiLinearEquation(eqx.Module):
    """Base class: subclasses define ``linear_symbol`` and, if nonlinear, ``nonlinear``.

    The state is one real field ``[*grid.shape]``; :func:`opjax.solvers.simulate` vmaps
    over batches. Wavenumbers are float64 when ``jax_enable_x64`` is on, else float32.
    """

    grid: PeriodicGrid = eqx.field(static=True)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.grid.shape

    def default_solver(self, dt: float | None) -> diffrax.AbstractSolver:
        """ETDRK4 with step ``dt``: exact for the stiff linear part."""
        if dt is None:
            raise ValueError("the default ETDRK4 solver needs dt")
        return ETDRK(4, dt)

    def wavenumbers(self) -> list[jax.Array]:
        return self.grid.wavenumbers(jnp.result_type(float))

    def linear_symbol(self) -> jax.Array:
        raise NotImplementedError

    def nonlinear(self, t, u_hat: jax.Array, args=None) -> jax.Array:
        """The nonlinear term in Fourier space (zero for a linear equation)."""
        return jnp.zeros_like(u_hat)

    def term(self) -> SemiLinearTerm:
        """The diffrax term (state: the real field ``[..., *grid.shape]``)."""
        return SemiLinearTerm(self.linear_symbol(), self.nonlinear, self.grid)

    def vector_field(self, t, u: jax.Array, args=None) -> jax.Array:
        """``du/dt`` of the real field ``u [..., *grid.shape]``:
        ``irfftn(L rfftn(u) + N(t, rfftn(u)))``, as an explicit equation's."""
        return self.term().vf(t, u, args)

    def imex_terms(self) -> diffrax.MultiTerm:
        """``MultiTerm(explicit, implicit)`` for diffrax's IMEX solvers (``KenCarp3-5``,
        ``Sil3``): the nonlinear term explicit, the stiff linear term ``L`` implicit, both
        as vector fields of the real field ``[..., *grid.shape]``."""
        term = self.term()

        def explicit(t, y, args):
            return term.to_physical(term.nonlinear(t, term.to_spectral(y), args))

        def implicit(t, y, args):
            return term.to_physical(term.linear * term.to_spectral(y))

        return diffrax.MultiTerm(diffrax.ODETerm(explicit), diffrax.ODETerm(implicit))

    def dealias(self, u_hat: jax.Array) -> jax.Array:
        """``u_hat`` with the modes outside the 2/3 rule set to zero."""
        return u_hat * jnp.asarray(self.grid.dealias_mask())

    def dealiased_square(self, u_hat: jax.Array) -> jax.Array:
        """``rfft(u^2)`` with the 2/3 rule applied to ``u`` first (no aliasing of ``u^2``)."""
        u = self.grid.irfft(self.dealias(u_hat))
        return self.grid.rfft(u * u)
