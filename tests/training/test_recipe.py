from pathlib import Path

import pytest

from opjax.training.recipe import RecipeError, dump_toml, load_recipe, parse_override

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "train" / "fno_darcy16.toml"


def test_darcy_recipe_resolves_paths_relative_to_the_recipe():
    recipe = load_recipe(REPO / "train" / "fno_darcy16.toml")
    assert recipe["data"]["train"].endswith("shared/data/neuralop/darcy_train_16.pt")
    assert Path(recipe["data"]["train"]).is_absolute()
    assert recipe["optimizer"]["lr"] == 8e-3 and recipe["train"]["loss"] == "h1"
    # The run directory runs/<name> is chosen (claimed) when training starts.
    assert recipe["name"] == "fno_darcy16" and recipe["run_dir"] == ""


def test_overrides_parse_toml_values_and_nested_keys():
    assert parse_override("optimizer.lr=1e-3") == {"optimizer": {"lr": 1e-3}}
    assert parse_override("model.hparams.n_modes=[4, 4]") == {
        "model": {"hparams": {"n_modes": [4, 4]}}
    }
    recipe = load_recipe(REPO / "train" / "fno_darcy16.toml", ["train.epochs=3", "seed=5"])
    assert recipe["train"]["epochs"] == 3 and recipe["seed"] == 5


def test_unknown_key_names_the_closest_valid_key(tmp_path):
    with pytest.raises(RecipeError, match=r"unknown recipe key 'optimizer.learning_rate'"):
        load_recipe(None, ["optimizer.learning_rate=1e-3"])
    with pytest.raises(RecipeError, match=r"'train.epoch'; did you mean 'train.epochs'\?"):
        load_recipe(None, ["train.epoch=3"])
    path = tmp_path / "bad.toml"
    path.write_text("[trian]\nepochs = 2\n")
    with pytest.raises(RecipeError, match=r"'trian'; did you mean 'train'\?"):
        load_recipe(path)


def test_wrong_types_and_choices_are_errors():
    with pytest.raises(RecipeError, match="'train.epochs' must be an integer"):
        load_recipe(None, ['train.epochs="ten"'])
    with pytest.raises(
        RecipeError,
        match=r"'train.loss' is 'l3'; expected one of \('l2', 'h1', 'relative_l1', 'mse'\)",
    ):
        load_recipe(None, ['train.loss="l3"'])


def test_dump_round_trips(tmp_path):
    recipe = load_recipe(REPO / "train" / "fno_darcy16.toml")
    path = tmp_path / "config.toml"
    path.write_text(dump_toml(recipe))
    reloaded = load_recipe(path)
    reloaded["run_dir"] = recipe["run_dir"]
    assert reloaded == recipe
