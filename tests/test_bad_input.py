"""Bad values and hostile files, as a user meets them on the command line: one line on
stderr naming the key or the file, exit code 2, nothing left behind, no traceback."""

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from opjax.cli import main
from tests.conftest import REPO, tiny_burgers_recipe, tiny_darcy_overrides

RECIPE = str(REPO / "train" / "fno_darcy16.toml")
POSEIDON = REPO / "tests" / "fixtures" / "poseidon" / "conditioned"
DARCY_RUN_V010 = REPO / "tests" / "fixtures" / "runs_v010" / "darcy_fno"
TINY_BURGERS = tiny_burgers_recipe(8, 4)


def _one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("opjax: error: "), captured.err
    assert "Traceback" not in captured.out
    return lines[0]


@pytest.mark.parametrize(
    "override, names",
    [
        ("train.epochs=2.5", "'train.epochs' must be an integer"),
        ("train.batch_size=0", "'train.batch_size' is 0"),
        ("train.eval_batch_size=0", "'train.eval_batch_size' is 0"),
        ("train.checkpoint_every=0", "'train.checkpoint_every' is 0"),
        ("train.eval_every=0", "'train.eval_every' is 0"),
        ("seed=12345678901234567890", "'seed' is 12345678901234567890"),
        ("seed=-1", "'seed' is -1"),
        ("data.n_train=-5", "'data.n_train' is -5"),
        ("data.n_test=-45", "'data.n_test' is -45"),
        ("data.test={}", "data.test is empty"),
        ("optimizer.lr=-0.001", "'optimizer.lr' is -0.001"),
        ("optimizer.lr=nan", "'optimizer.lr' is nan"),
        ("optimizer.lr=inf", "'optimizer.lr' is inf"),
        ("optimizer.weight_decay=-1", "'optimizer.weight_decay' is -1.0"),
        ("optimizer.b1=2", "'optimizer.b1' is 2.0"),
        ("model.hparams.n_modes=[0, 0]", "'n_modes' = [0, 0]; every number must be positive"),
        ("model.hparams.hidden_channels=-32", "'hidden_channels' = -32"),
        ("model.hparams.hidden_channels=32.5", "'hidden_channels' = 32.5; expected int"),
        ("model.hparams.n_layers=true", "'n_layers' = True; expected int"),
    ],
)
def test_a_bad_training_value_is_one_line_naming_the_key(
    override, names, neuralop_data, tmp_path, capsys
):
    run_dir = tmp_path / "run"
    overrides = [*tiny_darcy_overrides(neuralop_data, run_dir, epochs=1), override]
    assert main(["train", RECIPE, "--quiet", *(a for o in overrides for a in ("--set", o))]) == 2
    assert names in _one_line_error(capsys)
    assert not run_dir.exists()


@pytest.mark.parametrize(
    "override, names",
    [
        ("parameters.points=-8", "'points' is -8"),
        ("parameters.dt=-0.001", "'dt' is -0.001"),
        ("parameters.viscosity=nan", "'viscosity' is nan"),
        ("splits.train=-3", "splits.train.n_samples must be positive"),
    ],
)
def test_a_bad_generation_value_is_one_line_naming_the_key(override, names, tmp_path, capsys):
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(TINY_BURGERS)
    output = tmp_path / "out"
    args = ["generate", str(recipe), "--quiet", "--set", f"output='{output}'", "--set", override]
    assert main(args) == 2
    assert names in _one_line_error(capsys)
    assert not list(output.glob("*.h5*"))


@pytest.fixture(scope="module")
def generated_file(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("generated")
    (folder / "tiny.toml").write_text(TINY_BURGERS)
    args = ["generate", str(folder / "tiny.toml"), "--quiet", "--set", f"output='{folder}'"]
    assert main(args) == 0
    return folder / "train.h5"


def test_times_of_the_wrong_length_are_refused_by_file(generated_file, tmp_path, capsys):
    path = tmp_path / "times.h5"
    shutil.copy(generated_file, path)
    with h5py.File(path, "a") as file:
        times = file["times"][...]
        del file["times"]
        file["times"] = np.concatenate([times, times])
    assert main(["data", "info", str(path)]) == 2
    assert f"{path}: times has shape (6,), but field 'u' holds 3" in _one_line_error(capsys)


def test_a_field_stored_as_a_group_is_refused_by_name(generated_file, tmp_path, capsys):
    path = tmp_path / "group.h5"
    shutil.copy(generated_file, path)
    with h5py.File(path, "a") as file:
        del file["fields/u"]
        file.create_group("fields/u")
    assert main(["data", "info", str(path)]) == 2
    assert f"{path}: /fields/u is a group, not a dataset" in _one_line_error(capsys)


@pytest.mark.parametrize(
    "config, names",
    [
        ("[1, 2]", "config.json: expected a JSON object, got list"),
        ("{not json", "config.json: not valid JSON"),
        ({"patch_size": 0}, "'patch_size' = 0; every number must be positive"),
        ({"num_heads": [0, 4, 4, 4]}, "'num_heads' = (0, 4, 4, 4); every number must be positive"),
    ],
)
def test_a_bad_poseidon_config_is_refused_by_name(config, names, tmp_path, capsys):
    folder = tmp_path / "poseidon"
    shutil.copytree(POSEIDON, folder)
    if isinstance(config, dict):
        config = json.dumps({**json.loads((folder / "config.json").read_text()), **config})
    (folder / "config.json").write_text(config)
    assert main(["convert", "poseidon", str(folder), str(tmp_path / "out")]) == 2
    assert names in _one_line_error(capsys)
    assert not (tmp_path / "out").exists()


def _edit_card(run_dir: Path, edit) -> None:
    card = json.loads((run_dir / "model.json").read_text())
    edit(card)
    (run_dir / "model.json").write_text(json.dumps(card))


@pytest.mark.parametrize(
    "damage, names",
    [
        (lambda card: None, None),
        ("garbage", "model.json: not a JSON model card"),
        (lambda card: card["normalizers"]["y"].update(mean=[0.4, 0.4]), "normalizers"),
        (lambda card: card["normalizers"]["y"].update(std=[float("nan")]), "normalizers"),
        (lambda card: card["hparams"].update(n_modes=[0, 4]), "model.json"),
        (lambda card: card.update(model="fn0"), "did you mean 'fno'"),
    ],
)
def test_a_damaged_model_card_is_refused_by_file(damage, names, neuralop_data, tmp_path, capsys):
    run_dir = tmp_path / "run"
    shutil.copytree(DARCY_RUN_V010, run_dir)
    if damage == "garbage":
        (run_dir / "model.json").write_text("garbage")
    else:
        _edit_card(run_dir, damage)
    inputs = neuralop_data / "darcy_test_16.pt"
    code = main(["evaluate", str(run_dir), "--data", f"16={inputs}"])
    if names is None:  # the undamaged copy evaluates
        assert code == 0
        return
    assert code == 2
    error = _one_line_error(capsys)
    assert names in error and "model.json" in error


def test_a_training_that_fails_leaves_no_run_directory_and_can_be_rerun(
    neuralop_data, tmp_path, capsys
):
    run_dir = tmp_path / "run"
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a torch archive")
    overrides = tiny_darcy_overrides(neuralop_data, run_dir, epochs=1)
    args = ["train", RECIPE, "--quiet", *(a for o in overrides for a in ("--set", o))]
    assert main([*args, "--set", f"data.train='{garbage}'"]) == 2
    assert "garbage.pt" in _one_line_error(capsys)
    assert not run_dir.exists()
    assert main(args) == 0
    assert (run_dir / "model.json").exists()
