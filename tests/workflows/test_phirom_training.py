"""Phi-ROM and its data-only baseline through ``opjax train``: hyperparameters from the
data, the run directory, bit-exact resume, ``opjax.load(...).predict`` and bad input."""

import json
import shutil

import h5py
import jax
import numpy as np
import pytest

import opjax
from opjax.runs import read_model_card
from opjax.runs.directory import read_metrics
from opjax.training import RecipeError, load_recipe
from opjax.workflows import evaluate_run, train
from tests.conftest import REPO

RECIPE = REPO / "train" / "phirom_burgers.toml"
DATASET = """problem = "burgers_source1d"
output = "generated"
chunk_size = 4
[parameters]
points = 32
n_times = 8
spin_up_time = 0.7
[splits]
train = { n_samples = 3, parameters = { mu_low = 0.015, mu_high = 0.03 } }
test = { n_samples = 2, parameters = { mu_low = 0.018, mu_high = 0.027 } }
"""


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "burgers_source.toml"
    path.write_text(DATASET)
    return path


def _recipe(dataset, run_dir, *extra, epochs=4):
    return load_recipe(
        RECIPE,
        [
            f"data.generate={dataset}",
            "data.window.max_states=5",
            "model.hparams={ latent_dim = 4, decoder_width = 8, decoder_depth = 2, "
            "dynamics_width = 8, dynamics_depth = 2 }",
            f"train.epochs={epochs}",
            "train.batch_size=2",
            "train.eval_batch_size=2",
            "train.eval_every=2",
            "train.checkpoint_every=2",
            "reduced_order.warmup_epochs=2",
            "reduced_order.gamma=0.5",
            "reduced_order.inversion_steps=20",
            f"run_dir={run_dir}",
            *extra,
        ],
    )


@pytest.fixture(scope="module")
def reference_run(dataset, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("phirom") / "run"
    return run_dir, train(_recipe(dataset, run_dir))


def test_hyperparameters_come_from_the_data(reference_run, dataset):
    run_dir, _ = reference_run
    card = read_model_card(run_dir)
    hp = card.hparams
    with h5py.File(dataset.parent / "generated" / "train.h5") as f:
        mu, u = f["params/mu"][()], f["fields/u"][:, :5]
    assert (hp["n_trajectories"], hp["n_times"], hp["n_params"]) == (3, 5, 1)
    assert hp["coords_low"] == [0.0] and hp["coords_high"] == [100.0]
    np.testing.assert_allclose(hp["params_mean"], [mu.mean()], rtol=1e-6)
    np.testing.assert_allclose(hp["params_std"], [mu.std(ddof=1)], rtol=1e-6)
    np.testing.assert_allclose(hp["field_mean"], [u.mean()], rtol=1e-5)
    np.testing.assert_allclose(hp["field_std"], [u.std(ddof=1)], rtol=1e-5)
    assert card.training.objective == "phirom" and card.normalizers.y is None


def test_the_run_reports_errors_inside_and_beyond_the_horizon(reference_run):
    run_dir, result = reference_run
    records = read_metrics(run_dir)
    assert [r["epoch"] for r in records] == [0, 1, 2, 3]
    assert {"test/test/l2", "test/test/l2_extrapolation"} <= set(records[-1])
    assert set(result.final_metrics["test"]) == {"l2", "l2_extrapolation"}
    report = run_dir / "report"
    evaluate_run(str(run_dir))
    metrics = json.loads((report / "metrics.json").read_text())["test"]
    assert metrics["horizon"] == 5 and len(metrics["l2_per_time"]) == 8
    np.testing.assert_allclose(metrics["l2"], np.mean(metrics["l2_per_time"][:5]), rtol=1e-6)
    np.testing.assert_allclose(metrics["l2"], records[-1]["test/test/l2"], rtol=1e-5)
    assert (report / "trajectory_errors_test.png").exists()
    assert (report / "spacetime_test.png").exists()


def test_load_predicts_the_evaluated_trajectories(reference_run, dataset):
    run_dir, _ = reference_run
    evaluate_run(str(run_dir))  # the report this test compares with (tests may run apart)
    run = opjax.load(run_dir)
    with h5py.File(dataset.parent / "generated" / "test.h5") as f:
        u, mu, times = f["fields/u"][()], f["params/mu"][()], f["times"][()]
    pred = run.predict(u[:, 0, :, None], times, mu[:, None], steps=20)
    assert pred.shape == (2, 8, 32, 1)
    errors = np.linalg.norm(pred[..., 0] - u, axis=-1) / np.linalg.norm(u, axis=-1)
    metrics = json.loads((run_dir / "report" / "metrics.json").read_text())["test"]
    np.testing.assert_allclose(errors.mean(axis=0), metrics["l2_per_time"], rtol=1e-4)
    # Decoded anywhere: at the midpoints between the grid's nodes.
    x = np.linspace(0.0, 100.0, 32)
    mid = np.broadcast_to(((x[1:] + x[:-1]) / 2)[None, :, None], (2, 31, 1))
    between = run.predict(u[:, 0, :, None], times, mu[:, None], steps=20, coords=mid)
    assert between.shape == (2, 8, 31, 1) and np.all(np.isfinite(between))


def test_resume_is_bitwise_identical(reference_run, dataset, tmp_path):
    _, reference = reference_run
    run_dir = tmp_path / "run"
    train(_recipe(dataset, run_dir, epochs=2))
    recipe = load_recipe(run_dir / "config.toml", ["train.epochs=4"])
    resumed = train(recipe, resume=True)
    jax.tree.map(np.testing.assert_array_equal, resumed.params, reference.params)


def test_the_data_only_baseline_trains_the_same_networks(dataset, tmp_path):
    result = train(_recipe(dataset, tmp_path / "run", 'train.objective="latent_ode"', epochs=2))
    assert set(result.final_metrics["test"]) == {"l2", "l2_extrapolation"}
    card = read_model_card(tmp_path / "run")
    assert card.training.objective == "latent_ode" and card.hparams["decoder_width"] == 8


def test_bad_input_names_the_culprit(dataset, tmp_path):
    with pytest.raises(RecipeError, match=r"\['mu'\].*missing \['mu'\]"):
        train(_recipe(dataset, tmp_path / "a", "data.window.params=[]"))
    with pytest.raises(RecipeError, match="trajectories"):
        train(_recipe(dataset, tmp_path / "b", 'data.window.pairs="k_in_m_out"'))
    with pytest.raises(RecipeError, match="model.name = 'phirom'"):
        recipe = _recipe(dataset, tmp_path / "c")
        recipe["model"] = {"name": "fno", "hparams": {"n_modes": [4]}}
        train(recipe)
    with pytest.raises(RecipeError, match="latent_dim"):
        train(_recipe(dataset, tmp_path / "d", "reduced_order.gamma=0.05"))
    assert not any((tmp_path / name).exists() for name in "abcd")


def test_a_solver_on_another_grid_than_the_data_is_named(reference_run, dataset, tmp_path):
    data_dir = tmp_path / "data"
    recipe = _recipe(dataset, tmp_path / "run")
    train_file = data_dir / "train.h5"
    shutil.copytree(dataset.parent / "generated", data_dir)
    with h5py.File(train_file, "a") as f:
        f.attrs["recipe"] = f.attrs["recipe"].replace("points = 32", "points = 16")
    recipe["data"].update(
        generate="",
        format="opjax_h5",
        train=str(train_file),
        test={"test": str(data_dir / "test.h5")},
    )
    with pytest.raises(RecipeError, match="decoder/solver grid mismatch"):
        train(recipe)
