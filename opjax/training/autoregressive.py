"""Objectives that roll an autoregressive model out, with the solver inside the loss or not.

A one-step model ``f`` maps a window of the last ``k`` states ``[b, *space, k c]`` (stacked
as channels, oldest first, physical units) to the next state ``[b, *space, c]``; the
objective normalises its input and de-normalises its output (the run's
:class:`~opjax.data.normalizers.Normalizers`), and compares states in normalised target
units with the training loss ``ell(pred, true, weight)``
(:func:`~opjax.training.objectives.training_loss`). The solver ``P`` is a stepper
``(u [*space, c], params [p] or None) -> u_next``: the map from one saved state to the next
(:meth:`opjax.data.generation.Problem.stepper`). With ``u_0`` the batch's input window,
``y_1 .. y_L`` its stored next states and ``w_t`` per-level weights (default 1):

* :func:`unrolled_objective` (trainax's ``Supervised``): ``u_{t+1} = f(u_t)`` for
  ``t < T``, ``loss = sum_t w_t ell(u_t, y_t)``; then, with ``post_solver_steps = Q``
  (trainax's ``MixChainPostPhysics``), ``u_{t+1} = P(u_t)`` for ``Q`` more levels, compared
  with ``y`` as well. The model may be a corrected coarse solver step
  (:class:`~opjax.models.correction.CorrectedModel`): solver in the loop.
* :func:`diverted_chain_objective` (trainax's ``DivertedChain``): from each of the first
  ``T - B + 1`` states ``u_t`` of the model's rollout, the model and the solver both take
  ``B`` steps, ``loss = sum_t w_t sum_b v_b ell(f^b(u_t), P^b(u_t))``; only ``u_0`` is
  data, the reference is solved inside the loss. ``cut_solver_gradient`` stops the
  gradient at the branch's start on the solver side.
* :func:`residual_objective` (trainax's ``Residuum``): the model's own rollout and the
  equation's residual between consecutive predicted states, by the trapezoidal rule with
  the equation's vector field ``F`` over the saved interval ``dt``:
  ``R(u_{t+1}, u_t) = (u_{t+1} - u_t) / dt - (F(u_{t+1}) + F(u_t)) / 2``, and
  ``loss = sum_t w_t mean_batch mean_space sum_channels R^2``; no reference at all.
* :func:`composite_objective`: a weighted sum of objectives.

``cut_every = s > 0`` puts a stop-gradient into the model's chain after every ``s``-th step
(trainax's ``cut_bptt_every``), after that step's loss. The rollouts are ``lax.scan``\\ s,
fully unrolled (the diverted chain's branches are Python loops inside its main scan):
XLA's CPU backend runs the gradient of a convolution inside a loop many times slower than
outside one (``evaluation/speed/solver_training_vs_trainax.md``), so compile time grows
with ``T`` and the step runs at the speed of the calls it contains. A
model with state collections (batch norm) carries them from step to step and returns the
last.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from opjax.data.normalizers import Normalizers
from opjax.solvers.stepper import FieldRate, Stepper, batched
from opjax.training.objectives import Objective, TrainingLoss, squared_error, weighted_mean


def level_weights(weights: Sequence[float] | None, n_levels: int, name: str) -> np.ndarray:
    """``[n_levels]``: the given per-level weights, or ones (float64 numpy, so that they take
    the precision of the loss they multiply).

    Raises:
        ValueError: naming ``name``, when a non-empty ``weights`` has another length.
    """
    if not weights:
        return np.ones(n_levels)
    if len(weights) != n_levels:
        raise ValueError(f"{name} has {len(weights)} entries; the objective has {n_levels} levels")
    return np.asarray(weights, np.float64)


def _gradient_gate(u: jax.Array, keep: jax.Array) -> jax.Array:
    """``u`` itself, with its gradient multiplied by ``keep`` (0: a stop-gradient)."""
    frozen = jax.lax.stop_gradient(u)
    return frozen + keep * (u - frozen)


def _keep_masks(n_steps: int, cut_every: int) -> np.ndarray:
    """``[n_steps]``: 0 after the steps ``t`` with ``(t + 1) % cut_every == 0``, else 1."""
    if cut_every <= 0:
        return np.ones(n_steps)
    return np.where((np.arange(n_steps) + 1) % cut_every == 0, 0.0, 1.0)


class _ModelChain:
    """The model's step in physical units, carrying its state collections.

    ``step(window, model_state) -> (next state, next window, model_state)``.
    """

    def __init__(self, model, params, normalizers, z):
        self.model, self.normalizers, self.z = model, normalizers, z
        self.trainable = {"params": params["params"]}
        self.initial_state = {k: v for k, v in params.items() if k != "params"}

    def network(self, window, model_state):
        kwargs = {} if self.z is None else {"z": self.z}
        variables = {**self.trainable, **model_state}
        x = self.normalizers.encode_input(window)
        if model_state:
            out, model_state = self.model.apply(
                variables, x, mutable=list(model_state), train=True, **kwargs
            )
        else:
            out = self.model.apply(variables, x, train=True, **kwargs)
        return self.normalizers.decode_output(out), model_state

    def step(self, window, model_state):
        state, model_state = self.network(window, model_state)
        channels = state.shape[-1]
        if window.shape[-1] % channels:
            raise ValueError(
                f"the model maps {window.shape[-1]} input channels to {channels}; an "
                "autoregressive rollout needs k states of the output's channels as input"
            )
        window = jnp.concatenate([window[..., channels:], state], axis=-1)
        return state, window, model_state


def _aux(model_state: dict) -> dict:
    return {"model_state": model_state} if model_state else {}


def _levels(batch: dict) -> jax.Array:
    """The stored next states ``[L, b, *space, c]`` (levels first)."""
    y = batch["y"]
    if y.ndim == batch["x"].ndim:  # one level, stored without its time axis
        y = y[:, None]
    return jnp.moveaxis(y, 1, 0)


def unrolled_objective(
    model: nn.Module,
    loss: TrainingLoss,
    normalizers: Normalizers,
    *,
    steps: int,
    cut_every: int = 0,
    weights: Sequence[float] | None = None,
    solver: Stepper | None = None,
    post_solver_steps: int = 0,
) -> Objective:
    """The model rolled out ``steps`` times against the stored states (module docstring).

    Args:
        steps: the model steps ``T``.
        cut_every: a stop-gradient after every ``cut_every``-th step (0: none).
        weights: ``[T + post_solver_steps]`` per-level weights (default: ones).
        solver: the stepper of the post-solver levels.
        post_solver_steps: solver steps after the model's, each compared with the data.

    The batch's ``y`` holds at least ``T + post_solver_steps`` states.
    """
    n_levels = steps + post_solver_steps
    w = level_weights(weights, n_levels, "the level weights")
    if post_solver_steps and solver is None:
        raise ValueError("post_solver_steps needs the solver")
    keep = _keep_masks(steps, cut_every)
    encode = normalizers.encode_target

    def objective(params, batch, rng):
        del rng
        targets, weight = _levels(batch), batch["weight"]
        if targets.shape[0] < n_levels:
            raise ValueError(f"the batch has {targets.shape[0]} next states; need {n_levels}")
        chain = _ModelChain(model, params, normalizers, batch.get("params"))

        def body(carry, inputs):
            window, model_state = carry
            target, level_weight, keep_gradient = inputs
            state, window, model_state = chain.step(window, model_state)
            level = level_weight * loss(encode(state), encode(target), weight)
            return (_gradient_gate(window, keep_gradient), model_state), level

        (window, model_state), levels = jax.lax.scan(
            body,
            (batch["x"], chain.initial_state),
            (targets[:steps], w[:steps], keep),
            unroll=True,
        )
        total = jnp.sum(levels)
        if post_solver_steps:
            step = batched(solver, batch.get("params"))
            state = window[..., window.shape[-1] - targets.shape[-1] :]
            for q in range(post_solver_steps):
                state = step(state)
                target = targets[steps + q]
                total = total + w[steps + q] * loss(encode(state), encode(target), weight)
        return total, _aux(model_state)

    return objective


def diverted_chain_objective(
    model: nn.Module,
    loss: TrainingLoss,
    normalizers: Normalizers,
    solver: Stepper,
    *,
    steps: int,
    branch_steps: int = 1,
    cut_every: int = 0,
    cut_solver_gradient: bool = False,
    weights: Sequence[float] | None = None,
    branch_weights: Sequence[float] | None = None,
) -> Objective:
    """The solver branched off the model's rollout (module docstring).

    Args:
        steps: the model's main chain ``T``.
        branch_steps: the branch length ``B <= T``.
        cut_every: a stop-gradient in the model's chain after every ``cut_every``-th step,
            counted along the branch as in trainax (0: none).
        cut_solver_gradient: no gradient through the solver's branch.
        weights: ``[T - B + 1]`` weights of the branches (default: ones).
        branch_weights: ``[B]`` weights of a branch's levels (default: ones).

    Only the batch's ``x`` is used.
    """
    if not 1 <= branch_steps <= steps:
        raise ValueError(f"need 1 <= branch_steps <= steps; got {branch_steps} and {steps}")
    n_branches = steps - branch_steps + 1
    w = level_weights(weights, n_branches, "the branch weights")
    v = level_weights(branch_weights, branch_steps, "the branch level weights")
    main_keep = _keep_masks(n_branches, cut_every)
    encode = normalizers.encode_target

    def objective(params, batch, rng):
        del rng
        weight = batch["weight"]
        chain = _ModelChain(model, params, normalizers, batch.get("params"))
        reference = batched(solver, batch.get("params"))

        def branch(window, first_step, t):
            """The branch from ``window``; ``first_step`` is the model's step from it, which
            the main chain shares."""

            def body(carry, b, step):
                _, truth, _ = carry
                state, window, model_state = step
                truth = reference(truth)
                level = v[b] * loss(encode(state), encode(truth), weight)
                keep = 1.0 if cut_every <= 0 else jnp.where((t + b + 1) % cut_every, 1.0, 0.0)
                return (_gradient_gate(window, keep), truth, model_state), level

            start = window[..., window.shape[-1] - _channels(batch) :]
            if cut_solver_gradient:
                start = jax.lax.stop_gradient(start)
            carry, total = (window, start, first_step[2]), 0.0
            for b in range(branch_steps):  # a Python loop: B is small, and see the docstring
                step = first_step if b == 0 else chain.step(carry[0], carry[2])
                carry, level = body(carry, b, step)
                total = total + level
            return total, carry[2]

        def main(carry, inputs):
            window, model_state = carry
            t, branch_weight, keep = inputs
            first_step = chain.step(window, model_state)
            branch_loss, model_state = branch(window, first_step, t)
            window = first_step[1]
            return (_gradient_gate(window, keep), model_state), branch_weight * branch_loss

        (_, model_state), branch_losses = jax.lax.scan(
            main,
            (batch["x"], chain.initial_state),
            (jnp.arange(n_branches), w, main_keep),
            unroll=True,
        )
        return jnp.sum(branch_losses), _aux(model_state)

    return objective


def _channels(batch: dict) -> int:
    """The state's channels ``c`` (the batch's ``y`` ends in them)."""
    return batch["y"].shape[-1]


def trapezoidal_residual(rate: FieldRate, interval: float) -> Callable:
    """``R(u_next, u_prev, params) = (u_next - u_prev) / dt - (F(u_next) + F(u_prev)) / 2``
    for a batch ``[b, *space, c]``, ``F = rate`` and ``dt = interval``."""

    def residual(u_next, u_prev, params):
        f = batched(rate, params)
        return (u_next - u_prev) / interval - 0.5 * (f(u_next) + f(u_prev))

    return residual


def residual_objective(
    model: nn.Module,
    normalizers: Normalizers,
    residual: Callable[[jax.Array, jax.Array, jax.Array | None], jax.Array],
    *,
    steps: int,
    cut_every: int = 0,
    weights: Sequence[float] | None = None,
) -> Objective:
    """The equation's residual along the model's own rollout (module docstring):
    ``residual(u_next, u_prev, params) -> [b, *space, c]``, e.g.
    :func:`trapezoidal_residual`. Only the batch's ``x`` (one state, ``k = 1``) is used."""
    w = level_weights(weights, steps, "the level weights")
    keep = _keep_masks(steps, cut_every)

    def objective(params, batch, rng):
        del rng
        weight, z = batch["weight"], batch.get("params")
        chain = _ModelChain(model, params, normalizers, z)

        def body(carry, inputs):
            window, model_state = carry
            level_weight, keep_gradient = inputs
            state, next_window, model_state = chain.step(window, model_state)
            previous = window[..., window.shape[-1] - state.shape[-1] :]
            r = residual(state, previous, z)
            level = level_weight * weighted_mean(squared_error(r, jnp.zeros_like(r)), weight)
            return (_gradient_gate(next_window, keep_gradient), model_state), level

        (_, model_state), levels = jax.lax.scan(
            body, (batch["x"], chain.initial_state), (w, keep), unroll=True
        )
        return jnp.sum(levels), _aux(model_state)

    return objective


def composite_objective(parts: Mapping[str, tuple[Objective, float]]) -> Objective:
    """``sum_i weight_i objective_i`` over ``parts = {name: (objective, weight)}``; each part
    gets its own random key. State collections come from the last part."""
    names = list(parts)

    def objective(params, batch, rng):
        total, aux = 0.0, {}
        for name, key in zip(names, jax.random.split(rng, len(names))):
            part, weight = parts[name]
            value, part_aux = part(params, batch, key)
            total = total + weight * value
            aux.update(part_aux)
        return total, aux

    return objective
