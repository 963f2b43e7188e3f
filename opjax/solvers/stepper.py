"""``advance(equation, u, interval, substeps)``: one solver step between two saved states.

Autoregressive emulators learn the map from a saved state to the next one, ``interval``
time units later. The same map computed by the solver, with ``substeps`` equal steps of the
equation's default solver (ETDRK4 for a
:class:`~opjax.solvers.equations.base.SemiLinearEquation`, forward Euler for an
:class:`~opjax.solvers.equations.explicit.ExplicitEquation`), is what objectives with the
solver inside the loss call: a reference for the model's rollout (the diverted chain), or
a coarse solver the model corrects (``substeps`` smaller than the data's).

The steps run as one ``lax.scan`` of the solver's own step, so the cost is that of the
``substeps`` solver steps, without a diffrax solve's step-size bookkeeping, and reverse-mode
gradients store the ``substeps`` intermediate states.
"""

from __future__ import annotations

from collections.abc import Callable

import jax

from opjax.solvers.equations.base import SemiLinearEquation
from opjax.solvers.equations.explicit import ExplicitEquation

#: ``(u [*space, C], params [p] or None) -> u_next [*space, C]``: one saved interval.
Stepper = Callable[[jax.Array, jax.Array | None], jax.Array]
#: ``(u [*space, C], params [p] or None) -> du/dt [*space, C]``: the solver's time derivative.
FieldRate = Callable[[jax.Array, jax.Array | None], jax.Array]


def batched(
    per_sample: Stepper | FieldRate, params: jax.Array | None
) -> Callable[[jax.Array], jax.Array]:
    """``u [b, *space, C] -> [b, *space, C]``: a per-sample stepper (or field rate) on each
    sample of a batch, with its row of ``params [b, p]`` (or None for every sample)."""
    if params is None:
        return jax.vmap(lambda u: per_sample(u, None))
    return lambda u: jax.vmap(per_sample)(u, params)


def advance(
    equation: SemiLinearEquation | ExplicitEquation,
    u: jax.Array,
    interval: float,
    substeps: int,
) -> jax.Array:
    """The state ``interval`` after ``u [*equation.shape]``, by ``substeps`` solver steps of
    ``h = interval / substeps`` (the equation is autonomous: the start time is 0).

    Raises:
        ValueError: ``u`` is not on the equation's grid, or ``substeps < 1``.
    """
    if u.shape != tuple(equation.shape):
        raise ValueError(f"the state {u.shape} is not on the solver's grid {equation.shape}")
    if substeps < 1 or not interval > 0:
        raise ValueError(f"need substeps >= 1 and interval > 0; got {substeps}, {interval}")
    h = interval / substeps
    solver = equation.default_solver(h)
    term = equation.term()
    solver_state = solver.init(term, 0.0, h, u, None)

    def one_step(state, i):
        t0 = i * h
        state, _, _, _, _ = solver.step(term, t0, t0 + h, state, None, solver_state, False)
        return state, None

    u, _ = jax.lax.scan(one_step, u, jax.numpy.arange(substeps, dtype=u.dtype))
    return u


def check_state_map(per_sample: Stepper | FieldRate, state: jax.Array, params=None) -> None:
    """Check, by tracing only, that ``per_sample(state, params)`` takes a state shaped like
    ``state [*space, C]`` and returns that shape (a stepper or field rate on the data's grid).

    Raises:
        ValueError: naming the shapes.
    """
    try:
        out = jax.eval_shape(per_sample, state, params)
    except (ValueError, TypeError, IndexError) as err:
        raise ValueError(f"it cannot take states {state.shape}: {err}") from None
    if out.shape != state.shape:
        raise ValueError(f"it maps states {state.shape} to {out.shape}")
