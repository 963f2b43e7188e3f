"""Evaluation: benchmark metrics, per-sample errors, reports and plots."""

from opjax.evaluation.evaluate import make_error_fn, make_predict, per_sample_errors, summarize
from opjax.evaluation.metrics import relative_h1, relative_lp

__all__ = [
    "make_error_fn",
    "make_predict",
    "per_sample_errors",
    "relative_h1",
    "relative_lp",
    "summarize",
]
