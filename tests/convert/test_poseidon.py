"""Poseidon scOT checkpoints in opjax: parity with the reference on the fixture made by
tests/fixtures/poseidon/make_fixture.py, and the converter's refusals."""

import functools
import json
import shutil

import jax
import numpy as np
import pytest
from safetensors.numpy import load_file

from opjax.convert import (
    convert_poseidon_cli,
    from_poseidon,
    scot_hparams_from_config,
    scot_params_from_state,
)
from opjax.data.errors import DataFormatError
from opjax.models.scot import ScOT
from tests.conftest import FIXTURES

POSEIDON = FIXTURES / "poseidon"


@functools.cache
def converted(name):
    model, params = from_poseidon(POSEIDON / name)
    return model, params, jax.jit(model.apply)


@functools.cache
def reference():
    return dict(np.load(POSEIDON / "reference.npz"))


@pytest.mark.parametrize(
    "name, case",
    [("conditioned", ""), ("conditioned", "_24"), ("unconditioned", "")],
    ids=["safetensors-3-lead-times", "safetensors-resampled-24", "torch-bin-unconditioned"],
)
def test_parity_with_the_reference(name, case):
    """``conditioned`` is read from model.safetensors, ``unconditioned`` from
    pytorch_model.bin; ``_24`` runs the 32x32 model on 24x24 inputs (Fourier resampling)."""
    model, params, apply = converted(name)
    ref = reference()
    x, t, expected = ref[f"{name}/x{case}"], ref[f"{name}/t{case}"], ref[f"{name}/y{case}"]
    y = np.asarray(apply(params, x, t if model.use_conditioning else None))
    assert y.shape == expected.shape
    assert np.max(np.abs(y - expected)) <= 1e-5 * np.max(np.abs(expected))


def test_learn_residual_adds_the_first_input_channels():
    model, params, _ = converted("conditioned")
    ref = reference()
    x, t, y = ref["conditioned/x"], ref["conditioned/t"], ref["conditioned/y"]
    residual = jax.jit(model.clone(learn_residual=True).apply)(params, x, t)
    np.testing.assert_allclose(residual - y, x[..., : model.out_channels], atol=1e-4)


def test_config_maps_to_hyperparameters():
    config = json.loads((POSEIDON / "conditioned" / "config.json").read_text())
    hp = scot_hparams_from_config(config)
    assert hp["in_channels"] == 3 and hp["out_channels"] == 2
    assert hp["depths"] == (2, 3, 1) and hp["skip_connections"] == (1, 2, 0)
    assert hp["use_conditioning"] and not hp["learn_residual"]
    with pytest.raises(ValueError, match="residual_model='resnet'"):
        scot_hparams_from_config({**config, "residual_model": "resnet"})
    with pytest.raises(ValueError, match="use_absolute_embeddings"):
        scot_hparams_from_config({**config, "use_absolute_embeddings": True})


def test_mismatched_state_dict_names_every_tensor():
    model = ScOT(
        **scot_hparams_from_config(json.loads((POSEIDON / "conditioned/config.json").read_text()))
    )
    state = load_file(str(POSEIDON / "conditioned" / "model.safetensors"))
    # Recomputed buffers, should a checkpoint carry them, are not read.
    buffer = "encoder.layers.0.blocks.0.attention.self.relative_position_index"
    params = scot_params_from_state({**state, buffer: np.zeros((16, 16))}, model)
    assert params["params"]["embeddings"]["norm"]["weight"]["kernel"].shape == (1, 8)

    broken = dict(state)
    del broken["decoder.layers.1.blocks.2.layernorm_after.bias.weight"]
    del broken["residual_blocks.1.1.weight"]
    broken["encoder.layers.0.blocks.0.attention.self.key.bias"] = np.zeros(8, np.float32)
    broken["patch_recovery.mixup.weight"] = np.zeros((2, 2, 3, 3), np.float32)
    with pytest.raises(ValueError) as err:
        scot_params_from_state(broken, model)
    message = str(err.value)
    for name in (
        "decoder.layers.1.blocks.2.layernorm_after.bias.weight",
        "residual_blocks.1.1.weight",
        "encoder.layers.0.blocks.0.attention.self.key.bias",
        "patch_recovery.mixup.weight (2, 2, 3, 3) (expected (2, 2, 5, 5))",
    ):
        assert name in message
    assert "missing tensors (2)" in message and "unexpected tensors (1)" in message


def test_missing_and_corrupt_files_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        from_poseidon(tmp_path)
    shutil.copy(POSEIDON / "unconditioned" / "config.json", tmp_path / "config.json")
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        from_poseidon(tmp_path)
    (tmp_path / "pytorch_model.bin").write_bytes(b"not a zip archive")
    with pytest.raises(DataFormatError):
        from_poseidon(tmp_path)


def test_convert_cli_writes_a_loadable_run(tmp_path):
    from opjax import load
    from opjax.cli import main

    out = tmp_path / "run"
    assert main(["convert", "poseidon", str(POSEIDON / "conditioned"), str(out)]) == 0
    run = load(out)
    model, params, _ = converted("conditioned")
    assert run.model == model
    same = jax.tree.map(lambda a, b: bool(np.array_equal(a, b)), run.params, params)
    assert all(jax.tree.leaves(same))
    # The loaded run predicts at lead times like the reference.
    reference = np.load(POSEIDON / "reference.npz")
    y = reference["conditioned/y"]
    pred = np.asarray(run.predict(reference["conditioned/x"], reference["conditioned/t"]))
    assert np.abs(pred - y).max() <= 1e-5 * np.abs(y).max()
    with pytest.raises(FileExistsError):
        convert_poseidon_cli(POSEIDON / "conditioned", out)
