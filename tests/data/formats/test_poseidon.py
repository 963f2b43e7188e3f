"""Poseidon's datasets: channels-last fields, scOT's splits and constants exactly, lazily;
bad files named with the variable that is wrong."""

import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from opjax.data.errors import DataFormatError
from opjax.data.fields import read_sample
from opjax.data.formats.poseidon import detect_poseidon, open_poseidon
from opjax.data.formats.poseidon_catalogue import DATASETS
from opjax.data.formats.poseidon_normalization import scot_normalization
from tests.data.formats.poseidon_files import (
    NX,
    NY,
    sample_values,
    write_dataset,
    write_helmholtz,
    write_nc,
)


def test_ns_velocity_and_tracer_channels_last(tmp_path):
    path = write_dataset(tmp_path, "NS-PwC", 20000, written=(0, 1, 19760, 19999))
    with open_poseidon(path) as file:
        assert file.format == "poseidon" and file.attrs["dataset"] == "NS-PwC"
        velocity, tracer = file.field("velocity"), file.field("tracer")
        assert velocity.shape == (20000, 21, NX, NY, 2) and velocity.time_dependent
        assert velocity.channel_names == ("velocity_x", "velocity_y")
        assert tracer.shape == (20000, 21, NX, NY, 1)
        stored = sample_values((21, 3, NX, NY), 1)  # [time, channel, x, y]
        np.testing.assert_array_equal(
            velocity.read(slice(1, 2))[0], np.moveaxis(stored[:, :2], 1, -1)
        )
        np.testing.assert_array_equal(tracer.read(np.array([1]), -1)[0, ..., 0], stored[-1, 2])
        # scOT's made-up channels: density 1, pressure 0
        assert float(file.field("density").read(slice(0, 2), 3).min()) == 1.0
        assert file.field("pressure").read(slice(0, 2)).shape == (2, 21, NX, NY, 1)
        assert set(file.attrs["synthetic_fields"]) == {"density", "pressure"}


def test_ns_splits_and_constants_are_scots(tmp_path):
    path = write_dataset(tmp_path, "NS-PwC", 20000, written=(19760, 19999))
    with open_poseidon(path) as file:
        np.testing.assert_array_equal(file.splits["train"], np.arange(19640))
        np.testing.assert_array_equal(file.splits["val"], np.arange(19640, 19760))
        np.testing.assert_array_equal(file.splits["test"], np.arange(19760, 20000))
        assert file.constants["time"] == 20.0
        np.testing.assert_allclose(file.times, np.arange(21) / 20)
        mean, std = scot_normalization(file, "density[0],velocity[0],pressure[0]")
        np.testing.assert_allclose(mean, [0.80, 0.0, 0.0, 0.0])
        np.testing.assert_allclose(std, [0.31, 0.391, 0.356, 0.185])
        np.testing.assert_allclose(file.constants["mean"]["tracer"], [0.19586183])

        sample = read_sample(file, "velocity[0]", "velocity[-1]", split="test")
        assert sample["x"].shape == (240, NX, NY, 2)
        first = sample_values((21, 3, NX, NY), 19760)
        np.testing.assert_array_equal(sample["x"][0], np.moveaxis(first[0, :2], 0, -1))
        np.testing.assert_array_equal(sample["y"][0], np.moveaxis(first[-1, :2], 0, -1))


def test_shear_layer_is_transposed_as_scot_reads_it(tmp_path):
    path = write_dataset(tmp_path, "NS-SL", 40000, written=(0,))
    with open_poseidon(path) as file:
        velocity = file.field("velocity")
        assert velocity.shape == (40000, 21, NY, NX, 2) and "tracer" not in file.fields
        stored = sample_values((21, 2, NX, NY), 0)
        np.testing.assert_array_equal(velocity.read(slice(0, 1), 4)[0, ..., 1], stored[4, 1].T)
        assert len(file.splits["train"]) == 39640


@pytest.mark.parametrize(
    "dataset, mean_pressure", [("CE-RP", 0.215), ("CE-KH", 1.0), ("CE-Gauss", 2.513)]
)
def test_compressible_euler_channels_and_pressure_offset(tmp_path, dataset, mean_pressure):
    path = write_dataset(tmp_path, dataset, 10000, written=(2,))
    with open_poseidon(path) as file:
        assert list(file.fields) == ["density", "velocity", "pressure", "energy"]
        stored = sample_values((21, 5, NX, NY), 2)
        for name, channels in (("density", [0]), ("velocity", [1, 2]), ("pressure", [3])):
            block = file.field(name).read(slice(2, 3), 7)[0]
            np.testing.assert_array_equal(block, np.moveaxis(stored[7, channels], 0, -1))
        mean, std = scot_normalization(file, "density,velocity,pressure")
        np.testing.assert_allclose(mean, [0.80, 0.0, 0.0, mean_pressure])
        np.testing.assert_allclose(std, [0.31, 0.391, 0.356, 0.185])
        assert len(file.splits["train"]) == 9640 and file.splits["test"][0] == 9760


def test_richtmyer_meshkov_and_rayleigh_taylor(tmp_path):
    with open_poseidon(write_dataset(tmp_path, "CE-RM", 1260, written=(1030,))) as file:
        assert list(file.fields) == ["density", "velocity", "pressure", "tracer"]
        np.testing.assert_allclose(
            scot_normalization(file, "density,velocity,pressure")[0],
            [1.1964245, -7.164812e-06, 2.8968952e-06, 1.5648036],
        )
        np.testing.assert_array_equal(file.splits["val"], np.arange(1030, 1130))
        np.testing.assert_array_equal(file.splits["test"], np.arange(1130, 1260))
    with open_poseidon(write_dataset(tmp_path, "GCE-RT", 1260, written=(0,))) as file:
        potential = file.field("gravitational_potential")
        assert potential.shape == (1260, 11, NX, NY, 1)
        stored = sample_values((11, 6, NX, NY), 0)
        np.testing.assert_array_equal(potential.read(slice(0, 1), 2)[0, ..., 0], stored[2, 5])
        assert file.constants["time"] == 10.0 and file.attrs["scot_steps"]["time_step_size"] == 1
        np.testing.assert_allclose(file.constants["std"]["gravitational_potential"], [0.40131348])


def test_kolmogorov_flow_forcing(tmp_path):
    with open_poseidon(write_dataset(tmp_path, "FNS-KF", 20000, written=(0,))) as file:
        assert file.field("velocity").shape == (20000, 21, NX, NY, 2)
        forcing = file.field("forcing")
        assert not forcing.time_dependent and forcing.shape == (20000, NX, NY, 1)
        x, y = np.meshgrid(np.linspace(0, 1, NX), np.linspace(0, 1, NY), indexing="ij")
        np.testing.assert_allclose(
            forcing.read(slice(5, 7))[1, ..., 0], 0.1 * np.sin(2 * np.pi * (x + y)), atol=1e-7
        )
        np.testing.assert_allclose(file.constants["std"]["velocity"], [0.22017328, 0.22078253])


def test_wave_allen_cahn_poisson_and_airfoil(tmp_path):
    with open_poseidon(write_dataset(tmp_path, "Wave-Gauss", 10512, written=(3,))) as file:
        assert file.field("solution").shape == (10512, 15, NX, NY, 1)
        assert file.field("c").shape == (10512, NX, NY, 1) and not file.field("c").time_dependent
        np.testing.assert_array_equal(
            file.field("c").read(slice(3, 4))[0, ..., 0], sample_values((NX, NY), 3)
        )
        np.testing.assert_allclose(file.times, np.arange(15) / 15)
        assert len(file.splits["val"]) == 60 and len(file.splits["train"]) == 10212
    with open_poseidon(write_dataset(tmp_path, "ACE", 15000, written=())) as file:
        assert file.field("solution").shape == (15000, 20, NX, NY, 1)
        assert file.constants["time"] == 19.0 and len(file.splits["train"]) == 14700
    with open_poseidon(write_dataset(tmp_path, "Poisson-Gauss", 20000, written=(0,))) as file:
        assert not file.field("source").time_dependent and file.times is None
        np.testing.assert_allclose(file.constants["std"]["source"], [4.755138816607612])
        sample = read_sample(file, "source", "solution", n_samples=1, split="train")
        np.testing.assert_array_equal(sample["y"][0, ..., 0], sample_values((NX, NY), 0))
    with open_poseidon(write_dataset(tmp_path, "SE-AF", 10869, written=(10868,))) as file:
        stored = sample_values((2, NX, NY), 10868)
        np.testing.assert_array_equal(
            file.field("airfoil").read(np.array([10868]))[0, ..., 0], stored[0]
        )
        np.testing.assert_array_equal(
            file.field("density").read(np.array([10868]))[0, ..., 0], stored[1]
        )
        assert file.splits["test"][-1] == 10868 and len(file.splits["train"]) == 10509


def test_helmholtz_groups(tmp_path):
    with open_poseidon(write_helmholtz(tmp_path / "Helmholtz.h5", n=4)) as file:
        assert file.field("u").shape == (4, NX, NY, 1)
        np.testing.assert_array_equal(
            file.field("u").read(np.array([1, 3]))[..., 0],
            [sample_values((NX, NY), 101), sample_values((NX, NY), 103)],
        )
        np.testing.assert_array_equal(
            file.field("bc").read(slice(2, 3)), np.full((1, NX, NY, 1), 1)
        )
        assert file.splits == {} and "N_max = 19675" in file.attrs["splits"]
        np.testing.assert_allclose(file.constants["mean"]["u"], [0.11523915668552])


def test_chunks_and_names(tmp_path):
    # a chunk named after the dataset: recognised, no splits (too few samples)
    with open_poseidon(write_dataset(tmp_path, "NS-SVS", 5, name="NS-SVS_0")) as file:
        assert file.attrs["dataset"] == "NS-SVS" and file.splits == {}
        assert "N_max = 20000" in file.attrs["splits"]
    # a Hub download's chunk, <variable>_<k>.nc in a folder named after the dataset
    folder = tmp_path / "Wave-Layer"
    path = write_nc(folder / "c_0.nc", {"c": (4, NX, NY)})
    with open_poseidon(path) as file:
        assert file.attrs["dataset"] == "Wave-Layer" and list(file.fields) == ["c"]
    # any name, with dataset= given, by Hub name or scOT's
    path = write_dataset(tmp_path, "CE-RP", 3, name="data")
    with open_poseidon(path, dataset="fluids.compressible.Riemann") as file:
        assert file.attrs["dataset"] == "CE-RP"
    with pytest.raises(DataFormatError, match="data.nc: unknown Poseidon dataset 'CE-XX'"):
        open_poseidon(path, dataset="CE-XX")


def test_unknown_files_are_read_generically(tmp_path):
    path = write_nc(
        tmp_path / "mystery.nc", {"u": (3, 4, NX, NY), "a": (3, NX, NY), "w": (3, 4, 2, NX, NY)}
    )
    with open_poseidon(path) as file:
        assert file.attrs["dataset"] == "unknown" and file.splits == {} and file.constants == {}
        assert file.field("u").shape == (3, 4, NX, NY, 1) and file.field("u").time_dependent
        assert file.field("a").shape == (3, NX, NY, 1)
        w = file.field("w")
        assert w.shape == (3, 4, NX, NY, 2)
        np.testing.assert_array_equal(
            w.read(slice(1, 2), 3)[0], np.moveaxis(sample_values((4, 2, NX, NY), 1)[3], 0, -1)
        )
        assert "layout_guessed" not in file.attrs  # NetCDF dimension names were used


def test_opening_is_lazy(tmp_path):
    # NS-PwC at full size: 20000 x 21 x 3 x 128 x 128 float32 (82 GB) declared, none written
    path = tmp_path / "NS-PwC.nc"
    with h5py.File(path, "w") as f:
        f.attrs["_NCProperties"] = "version=2"
        f.create_dataset(
            "velocity", shape=(20000, 21, 3, 128, 128), dtype="f4", chunks=(1, 1, 3, 128, 128)
        )
    start = time.perf_counter()
    with open_poseidon(path) as file:
        assert file.field("velocity").shape == (20000, 21, 128, 128, 2)
        assert time.perf_counter() - start < 1.0
    assert detect_poseidon(path)


def test_detect(tmp_path):
    assert detect_poseidon(write_dataset(tmp_path, "ACE", 2))
    assert not detect_poseidon(write_nc(tmp_path / "other.nc", {"u": (2, NX, NY)}))
    (tmp_path / "NS-SL.nc").write_bytes(b"not hdf5")
    assert not detect_poseidon(tmp_path / "NS-SL.nc")


def test_missing_variables_and_wrong_shapes_are_named(tmp_path):
    path = write_nc(tmp_path / "CE-RP.nc", {"solution": (2, 21, 5, NX, NY)})
    with pytest.raises(DataFormatError, match=r"CE-RP.nc: no variable 'data' of a CE-RP file"):
        open_poseidon(path)
    path = write_nc(tmp_path / "Wave-Gauss.nc", {"solution": (2, 15, NX, NY)})
    with pytest.raises(DataFormatError, match=r"Wave-Gauss.nc: missing variable 'c'"):
        open_poseidon(path)
    path = write_nc(tmp_path / "NS-Gauss.nc", {"velocity": (2, 21, NX, NY)})
    with pytest.raises(
        DataFormatError, match=r"NS-Gauss.nc: variable 'velocity' has shape \(2, 21, 8, 6\)"
    ):
        open_poseidon(path)
    path = write_nc(tmp_path / "GCE-RT.nc", {"solution": (2, 11, 4, NX, NY)})
    with pytest.raises(DataFormatError, match=r"GCE-RT.nc: variable 'solution' .* 4 channels"):
        open_poseidon(path)


def test_truncated_and_corrupt_files(tmp_path):
    path = write_dataset(tmp_path, "ACE", 4, written=(0, 1, 2, 3))
    data = Path(path).read_bytes()
    (tmp_path / "ACE_cut.nc").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match="ACE_cut.nc: not a readable HDF5/NetCDF4 file"):
        open_poseidon(tmp_path / "ACE_cut.nc")
    # a compressed chunk whose bytes are damaged: the read names the file and the variable
    path = write_nc(tmp_path / "ACE.nc", {"solution": (2, 20, NX, NY)}, compression="gzip")
    with h5py.File(path, "r") as f:
        offset = f["solution"].id.get_chunk_info(0).byte_offset
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(b"\xff" * 16)
    with (
        open_poseidon(path) as file,
        pytest.raises(DataFormatError, match=r"ACE.nc: cannot read /solution"),
    ):
        file.field("solution").read(slice(0, 1), 0)


def test_every_dataset_has_consistent_splits_and_constants():
    for spec in DATASETS.values():
        splits = spec.splits()
        sizes = [len(splits[s]) for s in ("train", "val", "test")]
        assert sizes == [spec.n_max - spec.n_val - spec.n_test, spec.n_val, spec.n_test]
        assert splits["test"][-1] == spec.n_max - 1
        for part in spec.parts:
            assert len(part.mean) == len(part.std) == len(part.names)
