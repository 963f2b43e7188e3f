"""neuraloperator FNO weights in opjax: parity on fixed inputs."""

import jax
import numpy as np
import pytest

from opjax.convert import fno_params_from_neuralop
from opjax.models import FNO
from tests.conftest import FIXTURES


@pytest.mark.parametrize("name", ["fno1d", "fno2d"])
@pytest.mark.parametrize("method", ["dft", "fft"])
def test_parity_with_neuraloperator(name, method):
    """Outputs of neuraloperator 2.0.0's FNO on fixed inputs (fixture made by running it)."""
    fixture = np.load(FIXTURES / "neuralop_fno.npz")
    prefix = f"{name}/param/"
    state = {k[len(prefix) :]: fixture[k] for k in fixture.files if k.startswith(prefix)}
    config = {
        k.split("/")[-1]: fixture[k].tolist()
        for k in fixture.files
        if k.startswith(f"{name}/config/")
    }
    model = FNO(**{**config, "n_modes": tuple(config["n_modes"])}, spectral_method=method)
    params = fno_params_from_neuralop(state)
    apply = jax.jit(model.apply)
    for i in range(2):
        x, expected = fixture[f"{name}/x{i}"], fixture[f"{name}/y{i}"]
        y = np.asarray(apply(params, x))
        assert np.max(np.abs(y - expected)) <= 1e-5 * np.max(np.abs(expected))


def test_missing_tensor_is_named():
    fixture = np.load(FIXTURES / "neuralop_fno.npz")
    prefix = "fno2d/param/"
    state = {k[len(prefix) :]: fixture[k] for k in fixture.files if k.startswith(prefix)}
    del state["fno_blocks.fno_skips.1.conv.weight"]
    with pytest.raises(KeyError, match=r"fno_blocks\.fno_skips\.1\.conv\.weight"):
        fno_params_from_neuralop(state)
