"""Training machinery: recipes, objectives, optimisers, the train step, state and loop.

``opjax.workflows.train`` puts them together into a run directory from a recipe.
"""

from opjax.training.loop import LoopSettings, NonFiniteLossError, fit
from opjax.training.objectives import one_step_objective, refinement_objective, training_loss
from opjax.training.optimizers import learning_rate_schedule, make_optimizer
from opjax.training.recipe import RecipeError, load_recipe
from opjax.training.state import init_train_state, init_variables, variable_shapes
from opjax.training.step import make_train_step, run_epoch

__all__ = [
    "LoopSettings",
    "NonFiniteLossError",
    "RecipeError",
    "fit",
    "init_train_state",
    "init_variables",
    "variable_shapes",
    "learning_rate_schedule",
    "load_recipe",
    "make_optimizer",
    "make_train_step",
    "one_step_objective",
    "refinement_objective",
    "run_epoch",
    "training_loss",
]
