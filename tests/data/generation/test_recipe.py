"""Dataset recipes: defaults, per-split parameters, errors that name the key."""

from pathlib import Path

import pytest

from opjax.data.generation import PROBLEMS, load_dataset_recipe
from opjax.recipe_tables import RecipeError

DATASETS = Path(__file__).resolve().parents[3] / "datasets"


@pytest.mark.parametrize("path", sorted(DATASETS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_committed_recipe_resolves(path):
    recipe = load_dataset_recipe(path)
    # burgers1d.toml, ks1d_small.toml, ...; a problem on meshes, <pde>_mesh, names its
    # recipes <pde>_<domain>.toml (poisson_lshape.toml).
    assert path.stem.startswith(recipe["problem"].removesuffix("_mesh"))
    for spec in recipe["splits"].values():
        assert set(spec["parameters"]) == set(PROBLEMS[recipe["problem"]].DEFAULTS)


def test_committed_recipes_cover_every_problem():
    problems = {load_dataset_recipe(p)["problem"] for p in DATASETS.glob("*.toml")}
    assert problems == set(PROBLEMS)


def test_split_parameters_override_the_shared_ones(tmp_path):
    recipe_file = tmp_path / "ks.toml"
    recipe_file.write_text(
        'problem = "ks1d"\n[parameters]\nn_times = 10\n'
        "[splits]\ntrain = 3\ntest = { n_samples = 2, parameters = { n_times = 40 } }\n"
    )
    recipe = load_dataset_recipe(recipe_file, ["parameters.dt=0.025"])
    assert recipe["splits"]["train"] == {
        "n_samples": 3,
        "parameters": {**PROBLEMS["ks1d"].DEFAULTS, "n_times": 10, "dt": 0.025},
    }
    assert recipe["splits"]["test"]["parameters"]["n_times"] == 40
    assert recipe["splits"]["test"]["parameters"]["dt"] == 0.025
    assert recipe["output"] == str(Path("data/ks").resolve())


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["parameters.viscosty=0.1"], "did you mean 'viscosity'"),
        (["problem='burger'"], "expected one of"),
        (["splits.test={ n_samples = 2, parameters = { dtt = 1.0 } }"], "splits.test.parameters"),
        (["splits.test={ count = 2 }"], "splits.test must be a sample count"),
        (["splits.test=0"], "must be positive"),
        (["precision='float16'"], "expected one of"),
        (["sed=1"], "did you mean 'seed'"),
    ],
)
def test_bad_recipes_name_the_key(overrides, message):
    with pytest.raises(RecipeError, match=message):
        load_dataset_recipe(None, ["problem='burgers1d'", "splits.train=2", *overrides])
