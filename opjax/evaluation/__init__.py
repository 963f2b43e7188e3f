"""Evaluation machinery: per-sample errors, rollouts, reports and plots.

The metrics themselves are pure functions in :mod:`opjax.metrics`;
:func:`opjax.workflows.evaluate_run` evaluates a whole run directory.
"""

from opjax.evaluation.evaluate import make_error_fn, per_sample_errors, summarize
from opjax.evaluation.rollout import make_rollout, make_sampled_rollout, make_time_rollout

__all__ = [
    "make_error_fn",
    "make_rollout",
    "make_sampled_rollout",
    "make_time_rollout",
    "per_sample_errors",
    "summarize",
]
