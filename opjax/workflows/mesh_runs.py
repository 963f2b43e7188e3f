"""Training a mesh model (SPON, SPON-MG) through ``opjax train``: its mesh comes from the
data.

The training file's mesh (``/mesh``, :class:`~opjax.data.mesh_data.DatasetMesh`) is the one
the model is bound to and saved with (the run's ``mesh.npz``); each test file is evaluated
on its own mesh, so a test set on a refined mesh measures mesh transfer. Errors are the
finite-element ones (:mod:`opjax.evaluation.mesh_evaluation`). The data stay in physical
units: the Dirichlet data pass from an input channel to the output unchanged.
"""

from __future__ import annotations

import flax.linen as nn

from opjax.data.formats import open_dataset
from opjax.data.mesh_data import DatasetMesh
from opjax.data.normalizers import Normalizers
from opjax.data.splits import Splits
from opjax.evaluation.evaluate import per_sample_errors, summarize
from opjax.evaluation.mesh_evaluation import make_mesh_error_fn
from opjax.models.on_mesh import OnMesh, mesh_levels, on_mesh
from opjax.recipe_tables import RecipeError
from opjax.runs.model_card import MeshSpec
from opjax.runs.run_mesh import RunMesh


def check_mesh_recipe(recipe: dict, network: nn.Module) -> None:
    """Raise a RecipeError unless the recipe fits a mesh model: un-normalised data, the
    one-step objective, a loss on DOF vectors (``l2`` or ``mse``: the grid losses' finite
    differences do not apply on a mesh)."""
    name = recipe["model"]["name"]
    data, objective = recipe["data"], recipe["train"]["objective"]
    if recipe["train"]["loss"] not in ("l2", "mse"):
        raise RecipeError(
            f"model {name!r} trains on DOF vectors: set train.loss = 'l2' or 'mse' (got "
            f"{recipe['train']['loss']!r}, a grid loss)"
        )
    if data["normalize_x"] or data["normalize_y"]:
        raise RecipeError(
            f"model {name!r} imposes the Dirichlet data exactly, in physical units: set "
            "data.normalize_x = false and data.normalize_y = false"
        )
    if objective != "one_step":
        raise RecipeError(f"model {name!r} trains with train.objective = 'one_step'")


def file_mesh(data_cfg: dict, path: str) -> DatasetMesh:
    """The mesh of a dataset file.

    Raises:
        RecipeError: the file has none.
    """
    with open_dataset(path, data_cfg["format"]) as file:
        mesh = file.mesh
    if mesh is None:
        raise RecipeError(
            f"{path}: a mesh model needs finite-element data with a mesh (e.g. opjax "
            "generate datasets/poisson_lshape.toml); this file has none"
        )
    return mesh


def model_spaces(network: nn.Module, mesh: DatasetMesh, path: str) -> RunMesh:
    """The spaces ``network`` runs on in ``mesh``: its space and, for SPON-MG, its coarse
    level.

    Raises:
        RecipeError: SPON-MG on a mesh without a coarse level.
    """
    if mesh_levels(network) < 2:
        return RunMesh(mesh.space, None)
    if mesh.coarse is None:
        raise RecipeError(
            f"{path}: SPON-MG needs the coarse level of the mesh (/mesh/coarse); the file "
            "has none (generate with refinements >= 1)"
        )
    return RunMesh(mesh.space, mesh.coarse)


def training_mesh(recipe: dict, network: nn.Module) -> tuple[OnMesh, RunMesh, MeshSpec]:
    """The model bound to the training file's mesh, the run's mesh and its card entry."""
    path = recipe["data"]["train"]
    mesh = file_mesh(recipe["data"], path)
    spaces = model_spaces(network, mesh, path)
    spec = MeshSpec(mesh.space.degree, mesh.space.n_dofs, mesh_levels(network))
    return on_mesh(network, *spaces), spaces, spec


def mesh_evaluator(
    network: nn.Module, normalizers: Normalizers, recipe: dict, splits: Splits, sharding
):
    """``variables -> {test set: {"l2", "h1", "boundary"}}``, each test set on its mesh."""
    data = recipe["data"]
    error_fns = {}
    for name, path in data["test"].items():
        mesh = file_mesh(data, path)
        model = on_mesh(network, *model_spaces(network, mesh, path))
        error_fns[name] = make_mesh_error_fn(model, normalizers, mesh.space)
    batch_size = recipe["train"]["eval_batch_size"]

    def evaluate(variables: dict) -> dict:
        return {
            name: summarize(
                per_sample_errors(error_fns[name], variables, test, batch_size, sharding)[0]
            )
            for name, test in splits.tests.items()
        }

    return evaluate
