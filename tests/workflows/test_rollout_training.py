"""Training against the solver through ``opjax train``: the solver the run finds, the
corrected model it saves and ``opjax.load`` rebuilds, on-the-fly data resumed after
SIGKILL, and bad input."""

import os
import signal
import subprocess
import sys
import time

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import opjax
from opjax.runs import read_model_card
from opjax.runs.directory import CHECKPOINTS, read_metrics
from opjax.runs.solver_spec import CorrectionSpec
from opjax.training import RecipeError, load_recipe
from opjax.workflows import train
from opjax.workflows.rollout_training import rollout_data
from tests.conftest import REPO

# Kuramoto-Sivashinsky on a small domain (L = 22, one length for every trajectory, so the
# solver's parameter is bound), 32 points, a state every 0.5 time units.
DATASET = """problem = "ks1d"
output = "generated"
chunk_size = 4
[parameters]
domain_length = 22.0
domain_jitter = {jitter}
points = 32
n_times = 12
save_dt = 0.5
dt = 0.25
[splits]
train = 4
test = 2
"""

RECIPE = """[model]
name = "fno"
[model.hparams]
n_modes = [8]
hidden_channels = 8
n_layers = 2
[data]
generate = "{dataset}"
window = {{ field = "u", k = 1, time_step = 1 }}
normalize_y = false
[train]
epochs = 2
batch_size = 4
eval_batch_size = 4
loss = "mse"
objective = "unrolled"
[rollout_training]
steps = 3
"""


def _dataset(folder, jitter=0.0):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ks.toml"
    path.write_text(DATASET.format(jitter=jitter))
    return path


@pytest.fixture(scope="module")
def recipe_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rollout")
    path = folder / "recipe.toml"
    path.write_text(RECIPE.format(dataset=_dataset(folder)))
    return path


def _recipe(recipe_file, run_dir, *extra):
    return load_recipe(recipe_file, [f"run_dir={run_dir}", *extra])


@pytest.mark.parametrize("time_step", [1, 2])
def test_the_runs_solver_steps_the_stored_states(recipe_file, tmp_path, time_step):
    """The solver the trainer finds maps each stored state to the one a model step later."""
    recipe = _recipe(recipe_file, tmp_path / "r", f"data.window.time_step={time_step}")
    from opjax.data.splits import generate_data

    generate_data(recipe["data"])
    data = rollout_data(recipe, 4)
    assert data.solver.bound_params == (22.0,)
    x, y = data.splits.train["x"], data.splits.train["y"]
    assert y.shape[1:] == (3, 32, 1) and data.training["y"] is y  # T = 3 levels, raw
    predicted = jax.vmap(lambda u: data.solver.stepper()(u, None))(jnp.asarray(x))
    scale = np.abs(y[:, 0]).max()
    np.testing.assert_allclose(predicted, y[:, 0], atol=2e-5 * scale)
    assert data.solver.interval() == pytest.approx(0.5 * time_step)


def test_corrected_model_is_saved_loaded_and_evaluated(recipe_file, tmp_path):
    run_dir = tmp_path / "correction"
    result = train(
        _recipe(
            recipe_file,
            run_dir,
            'train.objective="correction"',
            "rollout_training.coarse_proportion=0.5",
            'rollout_training.correction_mode="sequential_with_bypass"',
        )
    )
    card = read_model_card(run_dir)
    assert card.model == "fno" and card.sample_shapes == {"x": (32, 1), "y": (32, 1)}
    spec = CorrectionSpec.from_dict(card.training.correction)
    assert (spec.mode, spec.proportion, spec.solver.problem) == (
        "sequential_with_bypass",
        0.5,
        "ks1d",
    )
    run = opjax.load(run_dir)
    with h5py.File(recipe_file.parent / "generated" / "test.h5") as f:
        u = f["fields/u"][:, :2][..., None]
    x = u[:, 0]
    coarse = jax.vmap(lambda s: spec.coarse()(s, None))(jnp.asarray(x))
    network = run.model.network.apply(run.params, coarse)
    np.testing.assert_allclose(run.predict(x), coarse + network, rtol=1e-5, atol=1e-6)
    # the coarse step alone is worse than the corrected one, which learned something
    fine = u[:, 1]
    assert np.linalg.norm(run.predict(x) - fine) < np.linalg.norm(coarse - fine)
    assert result.final_metrics["test"]["l2"] == pytest.approx(
        read_metrics(run_dir)[-1]["test/test/l2"]
    )


@pytest.mark.parametrize(
    "objective",
    [
        ["train.objective='diverted_chain'", "rollout_training.branch_steps=2"],
        ["train.objective='residual'"],
        [
            "train.objective='composite'",
            "rollout_training.objectives={ unrolled = 1, residual = 0.1 }",
        ],
    ],
)
def test_every_objective_trains_through_the_recipe(recipe_file, tmp_path, objective):
    run_dir = tmp_path / "run"
    train(_recipe(recipe_file, run_dir, "train.epochs=3", "optimizer.lr=3e-3", *objective))
    records = read_metrics(run_dir)
    assert records[-1]["train_loss"] < records[0]["train_loss"]
    assert np.isfinite(records[-1]["test/test/l2"])


def _cli(*args):
    return subprocess.Popen(
        [sys.executable, "-m", "opjax.cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )


def test_on_the_fly_run_resumes_bit_exactly_after_sigkill(recipe_file, tmp_path):
    fly = ["data.on_the_fly=true", "data.n_train=8", "train.epochs=4"]
    reference = train(_recipe(recipe_file, tmp_path / "reference", *fly))
    run_dir = tmp_path / "killed"
    args = ["train", str(recipe_file), "--quiet", "--set", f"run_dir={run_dir}"]
    for override in fly:
        args += ["--set", override]
    process = _cli(*args)
    latest = run_dir / CHECKPOINTS / "latest"
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if latest.exists() and any(p.name.isdigit() for p in latest.iterdir()):
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert len(read_metrics(run_dir)) < 4, "the run finished before it was killed"
    process = _cli("train", "--resume", str(run_dir), "--quiet")
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err.decode()
    resumed = opjax.load(run_dir)
    jax.tree.map(np.testing.assert_array_equal, resumed.params, reference.params)
    ref_losses = [r["train_loss"] for r in read_metrics(tmp_path / "reference")]
    assert [r["train_loss"] for r in read_metrics(run_dir)] == ref_losses


def test_on_the_fly_data_parallel_over_two_devices_matches_one(recipe_file, tmp_path):
    fly = ["data.on_the_fly=true", "data.n_train=8", "train.epochs=2"]
    one = tmp_path / "one"
    train(_recipe(recipe_file, one, *fly))
    two = tmp_path / "two"
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=2"
    script = (
        "import jax; assert jax.device_count() == 2, jax.devices();"
        "from opjax.workflows import load_recipe, train;"
        f"train(load_recipe({str(recipe_file)!r}, {[f'run_dir={two}', *fly]!r}))"
    )
    env = {**os.environ, "XLA_FLAGS": flags.strip()}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=REPO)
    single = [r["train_loss"] for r in read_metrics(one)]
    parallel = [r["train_loss"] for r in read_metrics(two)]
    assert len(single) == 2
    assert parallel == pytest.approx(single, rel=1e-5)


def test_on_the_fly_writes_no_training_file(tmp_path):
    folder = tmp_path / "fly"
    path = folder / "recipe.toml"
    _dataset(folder)
    path.write_text(RECIPE.format(dataset=folder / "ks.toml"))
    recipe = _recipe(path, folder / "run", "data.on_the_fly=true", "train.epochs=1")
    train(recipe)
    assert sorted(p.name for p in (folder / "generated").glob("*.h5")) == ["test.h5"]


def test_bad_input_errors_name_the_culprit(recipe_file, tmp_path):
    with pytest.raises(RecipeError, match=r"compares 13 next states \(rollout_training.steps"):
        train(_recipe(recipe_file, tmp_path / "a", "rollout_training.steps=13"))
    with pytest.raises(RecipeError, match="branch_steps = 4 is longer than .*steps = 3"):
        train(
            _recipe(
                recipe_file,
                tmp_path / "b",
                "train.objective='diverted_chain'",
                "rollout_training.branch_steps=4",
            )
        )
    with pytest.raises(RecipeError, match="data.window.m = 2"):
        train(_recipe(recipe_file, tmp_path / "c", "data.window.m=2"))
    with pytest.raises(RecipeError, match="data.normalize_x = false and data.normalize_y"):
        train(
            _recipe(
                recipe_file, tmp_path / "d", "train.objective='correction'", "data.normalize_y=true"
            )
        )
    with pytest.raises(RecipeError, match="data.on_the_fly .* train.objective = 'one_step'"):
        _recipe(recipe_file, tmp_path / "e", "data.on_the_fly=true", "train.objective='one_step'")
    with pytest.raises(RecipeError, match="rollout_training.objectives.refinement: unknown"):
        train(
            _recipe(
                recipe_file,
                tmp_path / "f",
                "train.objective='composite'",
                "rollout_training.objectives={ refinement = 1 }",
            )
        )


def test_solver_parameters_that_vary_must_be_given_and_taken(tmp_path):
    folder = tmp_path / "jitter"
    path = folder / "recipe.toml"
    _dataset(folder, jitter=0.1)
    path.write_text(RECIPE.format(dataset=folder / "ks.toml"))
    with pytest.raises(
        RecipeError, match=r"vary between samples; set data.window.params = \['domain_length'\]"
    ):
        train(_recipe(path, folder / "a"))
    with pytest.raises(RecipeError, match="FNO takes no z"):
        train(_recipe(path, folder / "b", "data.window.params=['domain_length']"))


def test_a_solver_off_the_data_grid_is_refused(tmp_path):
    folder = tmp_path / "burgers"
    folder.mkdir()
    (folder / "b.toml").write_text(
        'problem = "burgers1d"\noutput = "generated"\n[parameters]\nsolver_points = 64\n'
        "points = 32\nn_times = 4\ndt = 1e-2\n[splits]\ntrain = 2\ntest = 1\n"
    )
    path = folder / "recipe.toml"
    path.write_text(RECIPE.format(dataset=folder / "b.toml").replace("steps = 3", "steps = 2"))
    with pytest.raises(
        RecipeError,
        match="needs the data's solver: the problem 'burgers1d'.*not stored on its solver's grid",
    ):
        train(_recipe(path, folder / "run"))
