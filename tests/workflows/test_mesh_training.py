"""SPON and SPON-MG through ``opjax train``: bound to the data's mesh, exact boundary data in
every evaluation, another test mesh (mesh transfer), the run reloaded, and bad recipes."""

import numpy as np
import pytest

import opjax
from opjax.data.formats import open_dataset
from opjax.data.generation import generate, load_dataset_recipe
from opjax.data.splits import generate_data
from opjax.fem import LagrangeSpace
from opjax.models import build_model
from opjax.models.on_mesh import mesh_levels
from opjax.runs.directory import read_metrics
from opjax.training import RecipeError, load_recipe
from opjax.workflows import train
from opjax.workflows.evaluate import evaluate_run
from tests.conftest import REPO

DATASET = """problem = "poisson_mesh"
output = "{output}"
chunk_size = 4
[parameters]
domain = "l_shape"
refinements = {refinements}
degree = 1
[splits]
train = {n_train}
test = 4
"""

RECIPE = """[model]
name = "{model}"
[model.hparams]
{hparams}
dirichlet_channels = [1]
[data]
generate = "{dataset}"
x_key = "f,g"
y_key = "u"
normalize_x = false
normalize_y = false
[train]
epochs = 2
batch_size = 4
eval_batch_size = 4
loss = "l2"
"""

HPARAMS = {
    "spon": "width = 8\nn_layers = 2",
    "spon_mg": "width = 8\ncoarse_width = 8\nn_fine_layers = 1\nn_coarse_layers = 1",
}


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mesh_data")
    paths = {}
    for name, refinements, n_train in (("coarse", 2, 8), ("fine", 3, 4)):
        path = folder / f"{name}.toml"
        path.write_text(
            DATASET.format(output=folder / name, refinements=refinements, n_train=n_train)
        )
        paths[name] = path
    return paths


def _recipe(datasets, tmp_path, model, *extra):
    path = tmp_path / f"{model}.toml"
    path.write_text(RECIPE.format(model=model, hparams=HPARAMS[model], dataset=datasets["coarse"]))
    return load_recipe(path, [f"run_dir={tmp_path / model}", *extra])


@pytest.mark.parametrize("model", ["spon", "spon_mg"])
def test_a_mesh_model_trains_reloads_and_transfers_to_a_refined_mesh(datasets, tmp_path, model):
    fine = generate(load_dataset_recipe(datasets["fine"]))["test"]
    recipe = _recipe(datasets, tmp_path, model)
    generate_data(recipe["data"])  # the coarse mesh's splits; then a refined test set beside
    recipe["data"]["test"]["refined"] = str(fine)
    result = train(recipe)
    last = read_metrics(result.run_dir)[-1]
    for name in ("test", "refined"):
        assert last[f"test/{name}/boundary"] == 0.0
        assert 0 < last[f"test/{name}/l2"] < 10 and np.isfinite(last[f"test/{name}/h1"])
    report = evaluate_run(result.run_dir)
    assert report["refined"]["boundary"] == 0.0 and report["refined"]["resolution"] == [225]
    assert (tmp_path / model / "report" / "samples_refined.png").stat().st_size > 5000
    run = opjax.load(result.run_dir)
    assert run.card.mesh.n_dofs == 65 and run.card.mesh.levels == (2 if model == "spon_mg" else 1)
    with open_dataset(str(fine), "opjax_h5") as file:
        x = np.stack([file.fields["f"].source[:2], file.fields["g"].source[:2]], -1)
        u = file.fields["u"].source[:2]
        mesh = file.mesh
    with pytest.raises(ValueError, match=r"expects DOFs \[batch, 65, 2\]"):
        run.predict(x)
    refined = run.on(mesh.space, mesh.coarse if model == "spon_mg" else None)
    prediction = np.asarray(refined.predict(x))[..., 0]
    boundary = mesh.space.boundary_mask
    np.testing.assert_array_equal(prediction[:, boundary], u[:, boundary])
    with pytest.raises(ValueError, match="trained on P1 DOFs"):
        run.on(LagrangeSpace(mesh.space.mesh, 2))


def test_bad_mesh_recipes_are_named(datasets, tmp_path):
    with pytest.raises(RecipeError, match="data.normalize_x = false"):
        train(_recipe(datasets, tmp_path, "spon", "data.normalize_y=true"))
    with pytest.raises(RecipeError, match="train.loss = 'l2' or 'mse'"):
        train(_recipe(datasets, tmp_path, "spon", "train.loss='h1'"))


@pytest.mark.parametrize("name", ["spon_poisson_lshape", "spon_mg_poisson_lshape"])
def test_the_committed_recipes_build_their_models(name):
    recipe = load_recipe(REPO / "train" / f"{name}.toml")
    model = build_model(recipe["model"]["name"], {**recipe["model"]["hparams"], "in_channels": 2})
    assert mesh_levels(model) == (2 if name.startswith("spon_mg") else 1)
    assert recipe["data"]["generate"].endswith("poisson_lshape.toml")
