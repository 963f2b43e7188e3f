"""A learned correction of a coarse solver step (solver in the loop).

A coarse solver ``P`` (few or short steps: cheap, biased) and a network ``f`` (physical
units in and out) make one autoregressive step ``u -> u_next`` in one of three ways
(APEBench's correction modes):

* ``"parallel"``: ``u_next = P(u) + f(u)``;
* ``"sequential"``: ``u_next = f(P(u))``;
* ``"sequential_with_bypass"``: ``u_next = P(u) + f(P(u))``.

The coarse solver is fixed: no gradient flows into its coefficients, but gradients flow
through it to the state, so unrolled training sees how a correction propagates.
"""

from __future__ import annotations

from collections.abc import Callable

import jax

CORRECTION_MODES = ("parallel", "sequential", "sequential_with_bypass")


def corrected_state(
    network: Callable[[jax.Array], jax.Array],
    coarse: Callable[[jax.Array], jax.Array],
    state: jax.Array,
    mode: str = "parallel",
) -> jax.Array:
    """``u_next [b, *space, c]`` from ``state [b, *space, c]`` by ``mode`` (module docstring).

    Raises:
        ValueError: an unknown ``mode``.
    """
    if mode == "parallel":
        return coarse(state) + network(state)
    if mode == "sequential":
        return network(coarse(state))
    if mode == "sequential_with_bypass":
        coarse_state = coarse(state)
        return coarse_state + network(coarse_state)
    raise ValueError(f"unknown correction mode {mode!r}; expected one of {CORRECTION_MODES}")
