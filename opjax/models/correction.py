"""A learned correction of a coarse solver step (solver in the loop).

A coarse solver ``P`` (few or short steps: cheap, biased) and a network ``f`` (physical
units in and out) make one autoregressive step ``u -> u_next`` in one of three ways
(APEBench's correction modes):

* ``"parallel"``: ``u_next = P(u) + f(u)``;
* ``"sequential"``: ``u_next = f(P(u))``;
* ``"sequential_with_bypass"``: ``u_next = P(u) + f(P(u))``.

The coarse solver is fixed: no gradient flows into its coefficients, but gradients flow
through it to the state, so unrolled training sees how a correction propagates.

:class:`CorrectedModel` is that step as a model: any objective trains it (APEBench's
corrected stepper), and the rollouts of evaluation and inference use it. Its variables
are the network's own (shared scope), so its checkpoints are the network's. It works in
the units of the solver: train it on un-normalised data.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax

from opjax.solvers.stepper import Stepper, batched

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


class CorrectedModel(nn.Module):
    """A network correcting a coarse solver's step: ``x [b, *space, c] -> u_next``.

    Attributes:
        network: the model, called as ``network(u, t, train=..., z=...)``.
        coarse: the coarse stepper ``(u [*space, c], params [p] or None) -> u_next``.
        mode: one of ``CORRECTION_MODES``.
    """

    network: nn.Module
    coarse: Stepper
    mode: str = "parallel"

    def setup(self):
        nn.share_scope(self, self.network)

    def __call__(self, x, t=None, z=None, train: bool = False):
        conditioning = {} if z is None else {"z": z}
        return corrected_state(
            lambda u: self.network(u, t, train=train, **conditioning),
            batched(self.coarse, z),
            x,
            self.mode,
        )
