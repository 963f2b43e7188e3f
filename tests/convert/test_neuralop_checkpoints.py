"""neuraloperator checkpoints (``save_checkpoint`` folders) -> opjax: parity, safety, errors.

The fixtures are tiny neuraloperator 2.0.0 FNO/TFNO models with random weights and their
outputs at two even resolutions (``tests/fixtures/make_neuralop_checkpoints.py``).
"""

import io
import shutil
import struct
import zipfile
from pathlib import Path

import jax
import numpy as np
import pytest

import opjax
from opjax.convert import convert_neuralop_cli, from_neuralop
from opjax.convert.neuralop import (
    fno_hparams_from_neuralop,
    model_from_checkpoint,
    neuralop_kwargs,
)
from opjax.data.formats.neuralop_checkpoint import (
    GlobalName,
    load_neuralop_pickle,
    read_checkpoint,
)
from opjax.data.formats.torch_archive import UnsafePickleError
from tests.conftest import FIXTURES

CHECKPOINTS = FIXTURES / "neuralop_checkpoints"
NAMES = sorted(p.name for p in CHECKPOINTS.iterdir() if p.is_dir())


@pytest.fixture(scope="module")
def outputs():
    return np.load(CHECKPOINTS / "outputs.npz")


def _assert_close(y, expected):
    err = np.max(np.abs(np.asarray(y) - expected))
    assert err <= 1e-5 * np.max(np.abs(expected)), err / np.max(np.abs(expected))


def test_every_kind_has_a_fixture():
    assert {"fno1d", "tfno2d_tucker", "tfno2d_cp", "tfno1d_tt"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_reproduces_neuraloperator_outputs(name, outputs):
    model, params = from_neuralop(CHECKPOINTS / name)
    apply = jax.jit(model.apply)
    for i in range(2):
        _assert_close(apply(params, outputs[f"{name}/x{i}"]), outputs[f"{name}/y{i}"])


@pytest.mark.parametrize("name", ["tfno2d_tucker", "fno2d_options"])
def test_fft_path_agrees(name, outputs):
    model, params = from_neuralop(CHECKPOINTS / name)
    apply = jax.jit(model.clone(spectral_method="fft").apply)
    _assert_close(apply(params, outputs[f"{name}/x1"]), outputs[f"{name}/y1"])


def test_hyperparameters_follow_the_kwargs():
    tucker, _ = from_neuralop(CHECKPOINTS / "tfno2d_tucker")  # TFNO: factorization by default
    assert (tucker.factorization, tucker.rank) == ("tucker", 0.42)
    options, _ = from_neuralop(CHECKPOINTS / "fno2d_options")
    assert options.norm == "group_norm" and options.stabilizer == "tanh"
    assert not options.grid_embedding and options.lifting_channel_ratio == 0
    cut, params = from_neuralop(CHECKPOINTS / "tfno2d_tucker_cut")  # max_n_modes > n_modes
    assert cut.separable and cut.fixed_rank_modes
    assert tuple(cut.rank) == params["params"]["spectral_conv_0"]["core_re"].shape
    positional, _ = from_neuralop(CHECKPOINTS / "fno2d_positional")
    assert (tuple(positional.n_modes), positional.in_channels, positional.hidden_channels) == (
        (4, 4),
        1,
        8,
    )


def test_file_paths_and_names(tmp_path, outputs):
    folder = CHECKPOINTS / "tfno2d_cp"
    for path in (folder / "best_model_state_dict.pt", folder / "best_model_metadata.pkl"):
        model, params = from_neuralop(path)
        _assert_close(
            jax.jit(model.apply)(params, outputs["tfno2d_cp/x0"]), outputs["tfno2d_cp/y0"]
        )
    for name in ("fno1d", "tfno1d_tt"):
        for f in (CHECKPOINTS / name).iterdir():
            shutil.copy(f, tmp_path / f.name.replace("model", name))
    with pytest.raises(ValueError, match="several checkpoints.*fno1d.*tfno1d_tt"):
        from_neuralop(tmp_path)
    model, _ = from_neuralop(tmp_path, name="tfno1d_tt")
    assert model.factorization == "tt"
    with pytest.raises(FileNotFoundError, match="no neuraloperator checkpoint"):
        from_neuralop(tmp_path / "..")
    with pytest.raises(FileNotFoundError, match="missing"):
        from_neuralop(tmp_path, name="nothing")


def _os_system_pickle(command: str) -> bytes:
    """A pickle that calls ``os.system(command)`` when loaded by an unrestricted unpickler."""
    arg = command.encode()
    return b"\x80\x02cos\nsystem\nX" + struct.pack("<I", len(arg)) + arg + b"\x85R."


def _replace_data_pkl(source: Path, target: Path, data: bytes) -> None:
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for entry in src.namelist():
            dst.writestr(entry, data if entry.endswith("/data.pkl") else src.read(entry))


@pytest.mark.parametrize("container", ["plain", "torch_zip"])
@pytest.mark.parametrize("which", ["metadata", "state_dict"])
def test_malicious_pickle_is_refused_naming_the_global(tmp_path, container, which):
    marker = tmp_path / "pwned"
    payload = _os_system_pickle(f"touch {marker}")
    folder = tmp_path / "ckpt"
    shutil.copytree(CHECKPOINTS / "fno1d", folder)
    victim = folder / ("model_metadata.pkl" if which == "metadata" else "model_state_dict.pt")
    if container == "plain":
        victim.write_bytes(payload)
    else:
        _replace_data_pkl(CHECKPOINTS / "fno1d" / victim.name, victim, payload)
    with pytest.raises(UnsafePickleError, match=r"os\.system"):
        from_neuralop(folder)
    assert not marker.exists()


def test_named_globals_are_inert(tmp_path):
    metadata = load_neuralop_pickle(CHECKPOINTS / "fno1d" / "model_metadata.pkl")
    gelu = metadata["non_linearity"]
    assert isinstance(gelu, GlobalName) and str(gelu) == "torch._C._nn.gelu"
    with pytest.raises(TypeError):
        gelu(1.0)
    # A pickle that tries to call a named global fails instead of calling anything.
    path = tmp_path / "reduce_metadata.pkl"
    path.write_bytes(b"\x80\x02ctorch._C._nn\ngelu\nK\x01\x85R.")
    with pytest.raises(ValueError, match="corrupt or unsupported"):
        load_neuralop_pickle(path)


def test_corrupt_file_is_named(tmp_path):
    bad = tmp_path / "x_metadata.pkl"
    bad.write_bytes(b"\x80\x02}q\x00(X")
    with pytest.raises(ValueError, match="x_metadata.pkl"):
        load_neuralop_pickle(bad)
    # A torch_zip archive without data.pkl
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("a/other", b"")
    bad.write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match="not a torch.save archive"):
        load_neuralop_pickle(bad)


def test_missing_extra_and_mismatched_tensors_are_named():
    checkpoint = read_checkpoint(CHECKPOINTS / "tfno2d_tucker")
    state = dict(checkpoint.state)
    del state["fno_blocks.convs.1.weight.factors.factor_2"]
    with pytest.raises(KeyError, match=r"fno_blocks\.convs\.1\.weight\.factors\.factor_2"):
        model_from_checkpoint(checkpoint._replace(state=state))

    state = {**checkpoint.state, "fno_blocks.extra.weight": np.zeros(3, np.float32)}
    with pytest.raises(ValueError, match=r"fno_blocks\.extra\.weight"):
        model_from_checkpoint(checkpoint._replace(state=state))

    key = "fno_blocks.fno_skips.0.conv.weight"
    state = {**checkpoint.state, key: np.zeros((8, 7, 1), np.float32)}
    with pytest.raises(ValueError, match=rf"{key}.*fno_skip_0/kernel.*\(8, 8\)"):
        model_from_checkpoint(checkpoint._replace(state=state))

    key = "fno_blocks.convs.0.weight.core"
    core = checkpoint.state[key]
    state = {**checkpoint.state, key: core[:-1]}
    with pytest.raises(ValueError, match=rf"{key}.*spectral_conv_0/core_(re|im)"):
        model_from_checkpoint(checkpoint._replace(state=state))

    # Metadata of another factorization: its tensors are missing.
    metadata = {**checkpoint.metadata, "factorization": "cp"}
    with pytest.raises(KeyError, match=r"fno_blocks\.convs\.0\.weight\.weights"):
        model_from_checkpoint(checkpoint._replace(metadata=metadata))


@pytest.mark.parametrize(
    "change, match",
    [
        ({"complex_data": True}, "complex_data=True"),
        ({"norm": "ada_in"}, "norm='ada_in'"),
        ({"non_linearity": GlobalName("torch.nn.functional", "relu")}, "non_linearity"),
        ({"fno_block_precision": "mixed"}, "fno_block_precision='mixed'"),
        ({"resolution_scaling_factor": 2}, "resolution_scaling_factor=2"),
        ({"positional_embedding": "rotary"}, "positional_embedding='rotary'"),
        ({"factorization": "ComplexTucker"}, "factorization='ComplexTucker'"),
        ({"decomposition_kwargs": {"init": "svd"}}, "decomposition_kwargs"),
        ({"fno_skip": "gated"}, "fno_skip='gated'"),
        ({"stabilizer": "clip"}, "stabilizer='clip'"),
        ({"conv_module": GlobalName("neuralop.layers", "Other")}, "conv_module"),
        ({"frobnicate": 1}, "frobnicate"),
        ({"_name": "SFNO"}, "SFNO"),
    ],
)
def test_unsupported_kwargs_are_named(change, match):
    metadata = {**read_checkpoint(CHECKPOINTS / "fno1d").metadata, **change}
    with pytest.raises(ValueError, match=match):
        fno_hparams_from_neuralop(neuralop_kwargs(metadata)[1])


def test_positional_args_and_class_defaults():
    cls, kwargs = neuralop_kwargs({"_name": "TFNO", "args": ((4, 4), 1, 2, 8)})
    assert cls == "TFNO"
    assert (kwargs["n_modes"], kwargs["hidden_channels"]) == ((4, 4), 8)
    assert (kwargs["factorization"], kwargs["rank"]) == ("Tucker", 0.1)
    with pytest.raises(ValueError, match="lacks the required kwargs.*hidden_channels"):
        neuralop_kwargs({"_name": "FNO", "n_modes": (4,), "in_channels": 1, "out_channels": 1})


def test_cli_writes_a_run_directory_that_opjax_load_reads(tmp_path, outputs):
    name = "tfno2d_tucker"
    out = convert_neuralop_cli(CHECKPOINTS / name, tmp_path / "run", None)
    run = opjax.load(out)
    assert run.card.model == "fno" and run.card.hparams["factorization"] == "tucker"
    assert run.card.training is None and run.card.data is None
    for i in range(2):
        _assert_close(run.predict(outputs[f"{name}/x{i}"]), outputs[f"{name}/y{i}"])
    assert opjax.load(out, checkpoint="best").card.source["neuralop"]["class"] == "TFNO"
    with pytest.raises(FileExistsError, match="already holds"):
        convert_neuralop_cli(CHECKPOINTS / name, out, None)
