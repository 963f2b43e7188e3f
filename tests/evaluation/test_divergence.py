"""The divergence check of a finished run: growing, useless and non-finite errors are flagged."""

import math

import pytest

from opjax.evaluation.divergence import GROWTH, USELESS, divergence_warning, summary_value

KEY = "test/16/l2"


def _records(*values):
    # Epochs without an evaluation carry no test key; the check must skip them.
    return [r for v in values for r in ({"epoch": 0, "train_loss": 1.0}, {KEY: v})]


def test_a_falling_error_is_not_flagged():
    assert divergence_warning(_records(0.9, 0.3, 0.05), KEY) is None
    assert divergence_warning(_records(0.5), KEY) is None
    assert divergence_warning([{"epoch": 0, "train_loss": 1.0}], KEY) is None


@pytest.mark.parametrize(
    "values",
    [
        (0.5, 0.5 * GROWTH * 1.01),  # grew past GROWTH x the first evaluation
        (20.0, 19.0, USELESS * 1.5),  # fell, but ends worse than predicting zero
        (0.5, math.nan),
        (0.5, math.inf),
    ],
)
def test_a_growing_useless_or_non_finite_error_is_flagged(values):
    warning = divergence_warning(_records(*values), KEY)
    assert warning is not None and KEY in warning and "optimizer.lr" in warning
    assert f"{values[-1]:.4g}" in warning and f"{values[0]:.4g}" in warning


def test_growth_up_to_the_threshold_is_not_flagged():
    assert divergence_warning(_records(0.5, 0.5 * GROWTH), KEY) is None


def test_summary_value_reads_the_selection_key():
    evaluation = {"16": {"l2": 0.25, "h1": 0.5}, "hi/res": {"l2": 0.125}}
    assert summary_value(evaluation, KEY) == 0.25
    assert summary_value(evaluation, "test/hi/res/l2") == 0.125
