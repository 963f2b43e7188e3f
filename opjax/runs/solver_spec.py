"""The solver a run trains against, and the corrected model, as the model card records them.

A run trained with opjax's solver in the loss (:mod:`opjax.workflows.rollout_training`)
takes it from the dataset that the training data came from: the generator ``problem`` and
the ``parameters`` it was built with (:data:`opjax.data.generation.PROBLEMS`). One model
step spans ``time_step`` saved states, so the solver does too. Per-sample PDE parameters
that the solver needs (the problem's ``rate_params``) either come with each sample
(``data.window.params``), or were the same for every training sample and are bound here
(``bound_params``).

A model that corrects a coarse solver step (:class:`~opjax.models.correction.CorrectedModel`)
is the network plus a :class:`CorrectionSpec`: the model card stores it, so that
``opjax.load`` rebuilds the same model, and the rollouts of ``opjax evaluate`` use it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from opjax.data.generation import PROBLEMS, Problem
from opjax.models.correction import CORRECTION_MODES, CorrectedModel
from opjax.solvers.stepper import FieldRate, Stepper


@dataclasses.dataclass(frozen=True)
class SolverSpec:
    """The data's solver over one model step.

    Attributes:
        problem: the generator's name (a key of ``PROBLEMS``).
        parameters: its parameters, every one (the dataset split's resolved table).
        time_step: the saved states one model step spans.
        bound_params: the values of the problem's ``rate_params`` when they are the same
            for every sample (the solver then ignores the samples' own), else None.
    """

    problem: str
    parameters: dict[str, Any]
    time_step: int = 1
    bound_params: tuple[float, ...] | None = None

    def __post_init__(self):
        if self.problem not in PROBLEMS:
            known = sorted(PROBLEMS)
            raise ValueError(f"unknown problem {self.problem!r}; expected one of {known}")

    def build(self) -> Problem:
        """The generator's :class:`~opjax.data.generation.Problem`."""
        module = PROBLEMS[self.problem]
        return module.build({**module.DEFAULTS, **self.parameters})

    def stepper(self, substeps: int | None = None, proportion: float = 1.0) -> Stepper:
        """``(u [*space, 1], params [p] or None) -> u_next``: ``time_step`` saved intervals
        (see :meth:`Problem.stepper`; ``substeps`` None: the data's own solver step).

        Raises:
            ValueError: the problem's states are not on its solver grid, or the arguments
                are out of range.
        """
        return self._bound(self.build().stepper(substeps, proportion, self.time_step))

    def field_rate(self) -> FieldRate:
        """``(u [*space, 1], params [p] or None) -> du/dt``: the equation's vector field.

        Raises:
            ValueError: the problem has none.
        """
        rate = self.build().field_rate
        if rate is None:
            raise ValueError(f"the problem {self.problem!r} has no field_rate")
        return self._bound(rate)

    def interval(self) -> float:
        """The time one model step spans: ``time_step`` saved intervals."""
        return self.build().saved_interval() * self.time_step

    def _bound(self, per_sample):
        if self.bound_params is None:
            return per_sample
        values = jnp.asarray(self.bound_params, jnp.float32)
        return lambda u, params: per_sample(u, values)

    def to_dict(self) -> dict[str, Any]:
        bound = None if self.bound_params is None else list(self.bound_params)
        return {**dataclasses.asdict(self), "bound_params": bound}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SolverSpec:
        bound = values["bound_params"]
        return cls(
            problem=values["problem"],
            parameters=dict(values["parameters"]),
            time_step=int(values["time_step"]),
            bound_params=None if bound is None else tuple(float(v) for v in bound),
        )


@dataclasses.dataclass(frozen=True)
class CorrectionSpec:
    """A network correcting a coarse step of the data's solver.

    Attributes:
        solver: the data's solver.
        mode: one of ``CORRECTION_MODES``.
        substeps: the coarse solver's steps per model step (0: the data's own count).
        proportion: the share of the model step the coarse solver advances (APEBench's
            ``coarse_proportion``).
    """

    solver: SolverSpec
    mode: str = "parallel"
    substeps: int = 0
    proportion: float = 1.0

    def __post_init__(self):
        if self.mode not in CORRECTION_MODES:
            raise ValueError(f"correction mode {self.mode!r}; expected one of {CORRECTION_MODES}")

    def coarse(self) -> Stepper:
        """The coarse stepper."""
        return self.solver.stepper(self.substeps or None, self.proportion)

    def model(self, network: nn.Module) -> CorrectedModel:
        """``network`` correcting the coarse stepper (its variables are the network's)."""
        return CorrectedModel(network, self.coarse(), self.mode)

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "solver": self.solver.to_dict()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> CorrectionSpec:
        return cls(
            solver=SolverSpec.from_dict(values["solver"]),
            mode=values["mode"],
            substeps=int(values["substeps"]),
            proportion=float(values["proportion"]),
        )
