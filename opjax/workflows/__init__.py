"""The verbs: train a recipe, evaluate a run, run a benchmark suite.

Each puts the machinery of :mod:`opjax.training`, :mod:`opjax.evaluation` and
:mod:`opjax.convert` together over run directories (:mod:`opjax.runs`); the command line
(:mod:`opjax.cli`) calls them.
"""

from opjax.training.recipe import load_recipe
from opjax.workflows.benchmark import run_suite, suite_markdown
from opjax.workflows.evaluate import evaluate_run
from opjax.workflows.pretrained import load_pretrained
from opjax.workflows.train import TrainResult, train

__all__ = [
    "TrainResult",
    "evaluate_run",
    "load_pretrained",
    "load_recipe",
    "run_suite",
    "suite_markdown",
    "train",
]
