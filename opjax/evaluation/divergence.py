"""Whether a finished run diverged: a test error that grew instead of falling.

A run can go wrong without a NaN: with a learning rate far too large the loss may stay
finite while the errors grow by orders of magnitude. :func:`divergence_warning` reads the
epoch records of ``metrics.jsonl`` and flags a run whose last evaluation of the selection
metric (a relative error, e.g. ``test/16/l2``) is more than :data:`GROWTH` times its first,
or more than :data:`USELESS` (a relative error of 1 is what predicting zero achieves).
"""

from __future__ import annotations

import math

#: The growth of the selection metric from the first evaluation to the last that is flagged.
GROWTH = 10.0
#: A final relative error above this is flagged whatever the first was.
USELESS = 10.0


def summary_value(evaluation: dict[str, dict[str, float]], selection: str) -> float:
    """The value of a record key ``"test/<test set>/<metric>"`` in an evaluation
    ``{test set: {metric: value}}``."""
    name, metric = selection.removeprefix("test/").rsplit("/", 1)
    return float(evaluation[name][metric])


def divergence_warning(records: list[dict], selection: str) -> str | None:
    """A sentence for the log and the report when the run diverged, else None.

    Args:
        records: the epoch records of ``metrics.jsonl``, in order.
        selection: the record key of the selection metric.
    """
    values = [r[selection] for r in records if selection in r]
    if not values:
        return None
    first, last = values[0], values[-1]
    grew = len(values) > 1 and last > GROWTH * first
    if math.isfinite(last) and not grew and last <= USELESS:
        return None
    return (
        f"the run diverged: the final {selection} is {last:.4g} (first evaluation: "
        f"{first:.4g}); try a smaller optimizer.lr or optimizer.grad_clip"
    )
