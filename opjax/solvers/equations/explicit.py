"""The shape of an equation written directly as a vector field ``du/dt = f(t, u)``.

Finite-difference and finite-volume discretisations on bounded domains (no Fourier
transform, boundary values held by the discretisation) define :meth:`vector_field` on
the whole state array; diffrax integrates it, forward Euler (the explicit scheme these
discretisations are usually stepped with) unless another solver is given. The vector field
is also what a physics-informed loss evaluates on a decoded state (Phi-ROM's ``f``).
"""

from __future__ import annotations

import diffrax
import equinox as eqx
import jax


class ExplicitEquation(eqx.Module):
    """Base class: subclasses define :attr:`shape` and :meth:`vector_field`.

    The state is one real field ``[*shape]``; :func:`opjax.solvers.simulate` vmaps over
    batches. Coefficients are traced fields (differentiable), sizes are static.
    """

    @property
    def shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    def vector_field(self, t, u: jax.Array, args=None) -> jax.Array:
        """``du/dt`` at the state ``u [*shape]``."""
        raise NotImplementedError

    def term(self) -> diffrax.ODETerm:
        return diffrax.ODETerm(self.vector_field)

    def default_solver(self, dt: float | None) -> diffrax.AbstractSolver:
        """Forward Euler: the scheme the discretisation is designed (and stable) for."""
        del dt
        return diffrax.Euler()
