"""Shared test configuration: strict JAX, paths to the shared benchmark files, tiny recipes."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")

# XLA programs are cached on disk, keyed by the program, the compile options and the jax
# version: a program that several tests, pytest-xdist workers or CLI subprocesses compile
# (the same model and step in different runs) compiles once. Compiling dominates the suite.
XLA_CACHE = Path(tempfile.gettempdir()) / f"opjax-tests-xla-cache-{os.getuid()}"
os.environ["JAX_COMPILATION_CACHE_DIR"] = str(XLA_CACHE)  # for the subprocesses too
os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0.2"
jax.config.update("jax_compilation_cache_dir", str(XLA_CACHE))
# LLVM's optimisation of the CPU code is most of a compile and pays back only in long runs;
# the tests' programs run for milliseconds (this halves the suite's time). The flag must be
# set before JAX starts its CPU backend, and reaches the subprocesses through the environment.
os.environ["XLA_FLAGS"] = " ".join(
    (os.environ.get("XLA_FLAGS", ""), "--xla_backend_optimization_level=0")
).strip()
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
NEURALOP_DATA = Path(os.environ.get("OPJAX_SHARED", REPO.parent / "shared")) / "data" / "neuralop"


@pytest.fixture(autouse=True)
def _isolated_working_directory(tmp_path, monkeypatch):
    """Every test runs in an empty directory of its own, so that none depends on what the
    checkout's working directory holds (the main job's ``runs/`` and ``data/``, say) or
    leaves anything there."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def neuralop_data() -> Path:
    if not (NEURALOP_DATA / "darcy_train_16.pt").exists():
        raise FileNotFoundError(
            f"the shared benchmark files are missing at {NEURALOP_DATA}; set OPJAX_SHARED"
        )
    return NEURALOP_DATA


def tiny_darcy_overrides(data: Path, run_dir: Path, epochs: int = 3) -> list[str]:
    """``--set`` overrides that shrink the Darcy recipe to a seconds-long run."""
    test16, test32 = data / "darcy_test_16.pt", data / "darcy_test_32.pt"
    return [
        f"run_dir={run_dir}",
        f"data.train={data / 'darcy_train_16.pt'}",
        f'data.test={{ "16" = "{test16}", "32" = "{test32}" }}',
        "data.n_train=128",
        "data.n_test=8",
        "model.hparams={ n_modes = [4, 4], hidden_channels = 8, n_layers = 2 }",
        f"train.epochs={epochs}",
        "train.checkpoint_every=1",
        "train.batch_size=16",
        "train.eval_batch_size=8",
        "optimizer.cosine_t_max=0",
    ]


def tiny_burgers_recipe(n_train: int, n_test: int, points: int = 64) -> str:
    """A dataset recipe (TOML text) for a seconds-long ``opjax generate`` of 1D Burgers."""
    return f"""problem = "burgers1d"
chunk_size = 4
[parameters]
solver_points = {4 * points}
points = {points}
n_times = 3
dt = 0.005
[splits]
train = {n_train}
test = {n_test}
"""
