"""The Well's reader: every field channels-last with the Well's channel names, broadcast
where the file stores less, lazily; bad files named with the key that is wrong."""

import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from opjax.data.errors import DataFormatError
from opjax.data.fields import read_sample
from opjax.data.formats.the_well import detect_the_well, open_the_well
from tests.data.formats.the_well_files import (
    NX,
    NY,
    N,
    T,
    expected_fields,
    write_huge_well_file,
    write_stats,
    write_well_file,
)


@pytest.fixture
def well(tmp_path):
    return write_well_file(tmp_path / "tiny_well" / "data" / "train" / "tiny.hdf5")


def test_fields_are_channels_last_with_the_wells_names(well):
    expected = expected_fields()
    with open_the_well(well) as file:
        assert file.format == "the_well"
        assert file.n_samples == N
        shapes = {name: f.shape for name, f in file.fields.items()}
        assert shapes == {
            "pressure": (N, T, NX, NY, 1),
            "mask": (N, NX, NY, 1),
            "profile": (N, NX, NY, 1),
            "forcing": (N, T, NX, NY, 1),
            "velocity": (N, T, NX, NY, 2),
            "stress": (N, T, NX, NY, 4),
        }
        assert file.field("velocity").channel_names == ("velocity_x", "velocity_y")
        assert file.field("stress").channel_names == (
            "stress_xx",
            "stress_xy",
            "stress_yx",
            "stress_yy",
        )
        assert file.field("pressure").time_dependent and not file.field("mask").time_dependent

        np.testing.assert_array_equal(
            file.field("pressure").read(slice(None))[..., 0], expected["pressure"]
        )
        np.testing.assert_array_equal(
            file.field("velocity").read(np.array([0, 2]), 3),
            expected["velocity"][[0, 2], 3],
        )
        stress = file.field("stress").read(slice(1, 2), slice(0, 2))
        assert stress.shape == (1, 2, NX, NY, 4)
        np.testing.assert_array_equal(stress, expected["stress"][1:2, 0:2].reshape(1, 2, NX, NY, 4))
        np.testing.assert_array_equal(stress[..., 1], expected["stress"][1:2, 0:2, ..., 0, 1])


def test_axes_the_file_does_not_store_are_broadcast(well):
    expected = expected_fields()
    with open_the_well(well) as file:
        profile = file.field("profile").read(slice(None))  # varies along x only
        assert profile.shape == (N, NX, NY, 1)
        np.testing.assert_array_equal(
            profile[..., 0], np.broadcast_to(expected["profile"][None, :, None], (N, NX, NY))
        )
        forcing = file.field("forcing").read(np.array([1, 2]), -1)  # same for every sample
        np.testing.assert_array_equal(forcing[..., 0], expected["forcing"][[-1, -1]])
        forcing[:] = 0  # a fresh array, not a view of a broadcast
        np.testing.assert_array_equal(
            file.field("mask").read(slice(0, 2))[..., 0], expected["mask"][:2]
        )


def test_times_coordinates_scalars_boundaries_and_split(well):
    with open_the_well(well) as file:
        np.testing.assert_allclose(file.times, np.linspace(0, 1, T))
        np.testing.assert_allclose(file.coordinates["x"], np.linspace(0, 1, NX))
        np.testing.assert_allclose(file.coordinates["y"], np.linspace(0, 2, NY))
        assert file.params["Reynolds"] == 100.0
        assert file.params["energy"].shape == (T,)
        np.testing.assert_array_equal(file.params["seed"], np.arange(N) + 7)
        assert file.attrs["dataset_name"] == "tiny_well"
        assert file.attrs["simulation_parameters"] == ["Reynolds", "gamma"]
        assert file.attrs["boundaries"] == {"x": ["periodic", "periodic"], "y": ["wall", "wall"]}
        assert file.attrs["boundary_conditions"]["x_periodic"]["associated_dims"] == ["x"]
        assert file.attrs["split"] == "train"
        np.testing.assert_array_equal(file.splits["train"], np.arange(N))
        assert file.constants == {}  # no stats.yaml


def test_read_sample_on_the_split(well):
    expected = expected_fields()
    with open_the_well(well) as file:
        sample = read_sample(file, "velocity[0],pressure[0]", "velocity[-1]", split="train")
    assert sample["x"].shape == (N, NX, NY, 3) and sample["y"].shape == (N, NX, NY, 2)
    np.testing.assert_array_equal(sample["x"][..., :2], expected["velocity"][:, 0])
    np.testing.assert_array_equal(sample["x"][..., 2], expected["pressure"][:, 0])
    np.testing.assert_array_equal(sample["y"], expected["velocity"][:, -1])


def test_normalisation_statistics_from_stats_yaml(well, tmp_path):
    pytest.importorskip("yaml")
    write_stats(tmp_path / "tiny_well" / "stats.yaml")
    with open_the_well(well) as file:
        np.testing.assert_array_equal(file.constants["mean"]["stress"], [1, 2, 3, 4])
        np.testing.assert_array_equal(file.constants["std"]["velocity"], [0.5, 0.25])
        np.testing.assert_array_equal(file.constants["mean"]["pressure"], [1.5])


def test_opening_is_lazy(tmp_path):
    path = write_huge_well_file(tmp_path / "huge.hdf5")  # 4 TB declared, nothing written
    start = time.perf_counter()
    with open_the_well(path) as file:
        assert file.field("u").shape == (1000, 1000, 1024, 1024, 1)
        assert time.perf_counter() - start < 1.0
        assert float(file.field("u").read(slice(999, 1000), 5).max()) == 0.0


def test_detect(well, tmp_path):
    assert detect_the_well(well)
    (tmp_path / "x.h5").write_bytes(b"not hdf5")
    assert not detect_the_well(tmp_path / "x.h5")


@pytest.mark.parametrize(
    "omit, message",
    [
        ("t1_fields/velocity", r"/t1_fields lists 'velocity' but has no dataset"),
        ("dimensions", r"missing group /dimensions"),
        ("dimensions/y", r"/dimensions lists 'y' but has no dataset /dimensions/y"),
    ],
)
def test_missing_keys_are_named(tmp_path, omit, message):
    path = write_well_file(tmp_path / "w.hdf5", omit=omit)
    with pytest.raises(DataFormatError, match=f"w.hdf5: {message}"):
        open_the_well(path)


def test_wrong_shapes_and_attributes_are_named(tmp_path):
    path = write_well_file(tmp_path / "w.hdf5", bad_shape="stress")
    with pytest.raises(DataFormatError, match=r"w.hdf5: /t2_fields/stress has shape .* expected"):
        open_the_well(path)
    path = write_well_file(tmp_path / "v.hdf5")
    with h5py.File(path, "a") as f:
        del f["t0_fields/pressure"].attrs["time_varying"]
    with pytest.raises(DataFormatError, match=r"v.hdf5: /t0_fields/pressure has no attribute"):
        open_the_well(path)


def test_truncated_and_missing_files(tmp_path):
    path = write_well_file(tmp_path / "w.hdf5")
    data = Path(path).read_bytes()
    (tmp_path / "cut.hdf5").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match="cut.hdf5: not a readable HDF5 file"):
        open_the_well(tmp_path / "cut.hdf5")
    with pytest.raises(FileNotFoundError, match="gone.hdf5"):
        open_the_well(tmp_path / "gone.hdf5")
