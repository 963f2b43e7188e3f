"""Training: recipes, objectives, optimizers, checkpoints, data parallelism, the loop."""

from opjax.training.recipe import RecipeError, load_recipe
from opjax.training.trainer import NonFiniteLossError, TrainResult, train

__all__ = ["NonFiniteLossError", "RecipeError", "TrainResult", "load_recipe", "train"]
