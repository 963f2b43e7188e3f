"""Writing datasets: layout, determinism, caching, resuming after SIGKILL, no half files."""

import os
import signal
import subprocess
import sys

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.data.formats import read_opjax_h5
from opjax.data.generation import generate, load_dataset_recipe, sample_keys
from opjax.solvers import Burgers, PeriodicGrid, gaussian_random_field, simulate

TINY_BURGERS = [
    "problem='burgers1d'",
    "parameters.solver_points=128",
    "parameters.points=32",
    "parameters.n_times=3",
    "parameters.dt=0.01",
    "chunk_size=4",
    "splits.train=10",
    "splits.test=3",
]


def tiny_recipe(output, *extra):
    return load_dataset_recipe(None, [*TINY_BURGERS, f"output={output}", *extra])


def read_all(path):
    with h5py.File(path, "r") as f:
        out = {}
        f.visititems(
            lambda name, obj: out.update({name: obj[()]}) if hasattr(obj, "shape") else None
        )
        return out, dict(f.attrs)


@pytest.fixture(scope="module")
def burgers(tmp_path_factory):
    output = tmp_path_factory.mktemp("burgers")
    recipe = tiny_recipe(output)
    return recipe, generate(recipe)


def test_layout_and_attributes(burgers):
    recipe, files = burgers
    files_seen = sorted(os.listdir(recipe["output"]))
    assert files_seen == [".test.h5.lock", ".train.h5.lock", "test.h5", "train.h5"]
    arrays, attrs = read_all(files["train"])
    assert arrays["fields/u"].shape == (10, 3, 32) and arrays["fields/u"].dtype == np.float32
    np.testing.assert_allclose(arrays["times"], [0.0, 0.5, 1.0])
    np.testing.assert_allclose(arrays["coordinates/x"], np.arange(32) / 32)
    np.testing.assert_allclose(arrays["params/viscosity"], 0.1)
    assert attrs["format"] == "opjax-h5" and attrs["complete"] and attrs["n_written"] == 10
    assert attrs["split"] == "train" and attrs["seed"] == 0 and "burgers1d" in attrs["recipe"]
    with h5py.File(files["train"], "r") as f:
        assert f["solver"].attrs["dt"] == 0.01 and f["fields/u"].attrs["time_dependent"]


def test_samples_are_the_solutions_of_their_keys(burgers):
    _, files = burgers
    u = read_all(files["train"])[0]["fields/u"]
    grid = PeriodicGrid((128,), 1.0)
    with jax.enable_x64(True):
        key = sample_keys(0, "train", 7, 1)[0]
        u0 = gaussian_random_field(key, grid, 2.5, 7.0, 49.0, jnp.float64)
        u1 = simulate(Burgers(grid, 0.1), u0, [1.0], dt=0.01)[-1]
    np.testing.assert_allclose(u[7, 0], np.asarray(u0)[::4], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(u[7, -1], np.asarray(u1)[::4], rtol=1e-6, atol=1e-7)
    test_u = read_all(files["test"])[0]["fields/u"]
    assert not np.allclose(test_u[0, 0], u[0, 0])  # splits draw different samples


def test_the_reader_builds_samples_from_field_keys(burgers):
    _, files = burgers
    u = read_all(files["train"])[0]["fields/u"]
    sample = read_opjax_h5(files["train"], x_key="u[0]", y_key="u[-1]", n_samples=6)
    assert sample["x"].shape == (6, 32, 1)
    np.testing.assert_array_equal(sample["y"][..., 0], u[:6, -1])
    rollout = read_opjax_h5(files["train"], x_key="u[0]", y_key="u[1:]")
    assert rollout["y"].shape == (10, 2, 32, 1)
    stacked = read_opjax_h5(files["train"], x_key="u[0],u[1]", y_key="u[2]")
    assert stacked["x"].shape == (10, 32, 2)


def test_a_finished_dataset_is_reused_and_never_overwritten(burgers, caplog):
    recipe, files = burgers
    before = os.stat(files["train"]).st_mtime_ns
    with caplog.at_level("INFO", "opjax.generate"):
        assert generate(recipe) == files
    assert os.stat(files["train"]).st_mtime_ns == before and "up to date" in caplog.text
    other = tiny_recipe(recipe["output"], "seed=1")
    with pytest.raises(FileExistsError, match="train.h5 exists but was not generated"):
        generate(other)


def test_generation_killed_midway_resumes_to_the_same_file(burgers, tmp_path):
    _, files = burgers
    output = tmp_path / "killed"
    recipe_file = tmp_path / "recipe.toml"
    recipe_file.write_text("\n".join(s for s in TINY_BURGERS if not s.startswith("splits")))
    cmd = [sys.executable, "-m", "opjax.cli", "-v", "generate", str(recipe_file), "--quiet"]
    cmd += ["--set", f"output='{output}'", "--set", "splits.train=400", "--set", "splits.test=1"]
    with subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True) as process:
        for line in process.stderr:
            if "train.h5.partial: wrote samples 4-7" in line:
                process.send_signal(signal.SIGKILL)
                break
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (output / "train.h5").exists()  # no file under the final name
    with h5py.File(output / "train.h5.partial", "r") as f:
        written = int(f.attrs["n_written"])
        assert not f.attrs["complete"] and 8 <= written < 400
    resumed = generate(tiny_recipe(output))  # the recipe of the killed run, train = 10
    assert not (output / "train.h5.partial").exists()
    np.testing.assert_array_equal(
        read_all(resumed["train"])[0]["fields/u"], read_all(files["train"])[0]["fields/u"]
    )


def test_resume_continues_after_the_written_samples(tmp_path, caplog):
    recipe = tiny_recipe(tmp_path, "splits.test=1")
    generate(recipe)
    reference = read_all(tmp_path / "train.h5")[0]["fields/u"]
    os.rename(tmp_path / "train.h5", tmp_path / "train.h5.partial")
    with h5py.File(tmp_path / "train.h5.partial", "r+") as f:
        f.attrs["complete"] = False
        f.attrs["n_written"] = 8
        f["fields/u"][8:] = np.nan  # what a killed run may leave after its last count
    with caplog.at_level("INFO", "opjax.generate"):
        generate(recipe)
    assert "resuming after 8 of 10 samples" in caplog.text
    np.testing.assert_array_equal(read_all(tmp_path / "train.h5")[0]["fields/u"], reference)


def test_a_corrupt_or_foreign_partial_file_is_started_again(tmp_path, caplog):
    recipe = tiny_recipe(tmp_path, "splits.test=1")
    (tmp_path / "train.h5.partial").write_bytes(b"not an HDF5 file")
    with h5py.File(tmp_path / "test.h5.partial", "w") as f:
        f.attrs["recipe"] = "another recipe"
    with caplog.at_level("WARNING", "opjax.generate"):
        files = generate(recipe)
    assert "unreadable" in caplog.text and "different recipe" in caplog.text
    assert read_opjax_h5(files["train"])["x"].shape == (10, 32, 1)


def test_a_diverging_solver_stops_with_the_sample_and_setting_named(tmp_path):
    recipe = load_dataset_recipe(
        None,
        [
            "problem='allen_cahn'",
            "parameters.solver_points=16",
            "parameters.points=16",
            "parameters.init_std=5.0",
            "parameters.dt=2.0",
            "parameters.t_end=40.0",
            "parameters.n_times=3",
            "splits.train=2",
            f"output={tmp_path}",
        ],
    )
    with pytest.raises(FloatingPointError, match=r"sample 0: fields/u .*parameters.dt \(now 2.0\)"):
        generate(recipe)
    assert not (tmp_path / "train.h5").exists()
