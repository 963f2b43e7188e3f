"""The package as a whole: its version, and what importing a part of it pulls in."""

import subprocess
import sys
from importlib.metadata import version

import pytest

import opjax


def test_the_version_comes_from_the_package_metadata():
    assert opjax.__version__ == version("opjax")


@pytest.mark.parametrize("module", ["opjax.models", "opjax.solvers"])
def test_models_and_solvers_import_no_checkpointing_optimiser_or_hdf5(module):
    heavy = ("orbax", "optax", "h5py")
    code = (
        f"import sys, {module}; "
        f"print(' '.join(m for m in {heavy!r} if m in sys.modules or any("
        "k.startswith(m + '.') for k in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_load_is_there_on_first_use():
    assert opjax.load.__module__ == "opjax.runs.loaded_run"
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = opjax.nothing
