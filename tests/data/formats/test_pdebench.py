"""The PDEBench reader: every released layout read back channels-last, lazily, and bad
files refused with the file and the key named."""

import time

import h5py
import numpy as np
import pytest

from opjax.data.errors import DataFormatError
from opjax.data.fields import read_sample
from opjax.data.formats.pdebench import detect_pdebench, open_pdebench
from tests.data.formats.fno_mat_files import ns_variables, write_v73
from tests.data.formats.pdebench_files import (
    seed_data,
    values,
    write_cfd,
    write_darcy,
    write_ns_incom,
    write_per_seed,
    write_tensor,
)


def test_1d_tensor_with_pdebench_times_and_params(tmp_path):
    path = write_tensor(tmp_path / "1D_Advection_Sols_beta0.1.hdf5", beta=0.1)
    with open_pdebench(path) as file:
        tensor = file.fields["tensor"]
        assert file.format == "pdebench" and file.attrs["layout"] == "tensor"
        assert tensor.shape == (3, 4, 8, 1) and tensor.time_dependent
        np.testing.assert_array_equal(
            tensor.read(slice(1, 3), 2), values((3, 4, 8))[1:3, 2, :, None]
        )
        np.testing.assert_array_equal(
            tensor.read(np.array([0, 2])), values((3, 4, 8))[[0, 2], ..., None]
        )
        # t-coordinate holds n_t + 1 entries; the states are at its first n_t.
        np.testing.assert_allclose(file.times, [0, 0.05, 0.1, 0.15])
        np.testing.assert_allclose(file.coordinates["x"], (np.arange(8) + 0.5) / 8)
        assert file.params == {"beta": 0.1} and file.attrs["beta"] == 0.1
        sample = read_sample(file, "tensor[0]", "tensor[-1]")
    assert sample["x"].shape == (3, 8, 1) and sample["y"].shape == (3, 8, 1)
    np.testing.assert_array_equal(sample["y"][..., 0], values((3, 4, 8))[:, -1])


def test_tensor_times_without_the_extra_entry_2d_and_channels(tmp_path):
    with open_pdebench(write_tensor(tmp_path / "a.hdf5", extra_time=False)) as file:
        np.testing.assert_allclose(file.times, [0, 0.05, 0.1, 0.15])
    with open_pdebench(write_tensor(tmp_path / "b.hdf5", space=(6, 5))) as file:
        assert file.fields["tensor"].shape == (3, 4, 6, 5, 1)
        assert set(file.coordinates) == {"x", "y"}
        np.testing.assert_array_equal(
            file.fields["tensor"].read(slice(0, 1), -1)[0, ..., 0], values((3, 4, 6, 5))[0, -1]
        )
    # one axis more than the coordinates: a trailing channel axis
    with open_pdebench(write_tensor(tmp_path / "c.hdf5", channels=2)) as file:
        assert file.fields["tensor"].shape == (3, 4, 8, 2)
        assert file.fields["tensor"].channel_names == ("tensor0", "tensor1")
        np.testing.assert_array_equal(file.fields["tensor"].read(slice(None)), values((3, 4, 8, 2)))


def test_darcy_coefficient_and_steady_solution(tmp_path):
    with open_pdebench(write_darcy(tmp_path / "2D_DarcyFlow_beta1.0_Train.hdf5")) as file:
        assert file.attrs["layout"] == "darcy" and file.params == {"beta": 1.0}
        assert file.times is None
        for name in ("nu", "tensor"):
            assert file.fields[name].shape == (3, 6, 5, 1)
            assert not file.fields[name].time_dependent
        np.testing.assert_array_equal(
            file.fields["tensor"].read(slice(1, 2)), values((3, 1, 6, 5))[1:2, 0, ..., None]
        )
        sample = read_sample(file, "nu", "tensor", n_samples=2)
    np.testing.assert_array_equal(sample["x"][..., 0], values((3, 6, 5), 1000.0)[:2])
    assert sample["y"].shape == (2, 6, 5, 1)


@pytest.mark.parametrize("space", [(8,), (6, 5), (3, 4, 2)])
def test_compressible_navier_stokes_fields_and_velocity(tmp_path, space):
    dim = len(space)
    with open_pdebench(write_cfd(tmp_path / f"{dim}D_CFD.hdf5", space=space)) as file:
        names = ("density", "pressure", "Vx", "Vy", "Vz")[: 2 + dim]
        assert set(file.fields) == {*names, "velocity"}
        for i, name in enumerate(names):
            assert file.fields[name].shape == (3, 4, *space, 1)
            np.testing.assert_array_equal(
                file.fields[name].read(slice(2, 3), 1)[0, ..., 0],
                values((3, 4, *space), 10000.0 * i)[2, 1],
            )
        velocity = file.fields["velocity"]
        assert velocity.shape == (3, 4, *space, dim)
        assert velocity.channel_names == ("Vx", "Vy", "Vz")[:dim]
        block = velocity.read(np.array([0, 2]), slice(1, 3))
        for c in range(dim):
            expected = values((3, 4, *space), 10000.0 * (2 + c))[[0, 2], 1:3]
            np.testing.assert_array_equal(block[..., c], expected)
        assert len(file.times) == 4 and list(file.coordinates) == list("xyz"[:dim])
        assert file.params["eta"] == 0.01 and ("M" in file.params) == (dim > 1)
        sample = read_sample(file, "density[0],velocity[0]", "velocity[-1]")
    assert sample["x"].shape == (3, *space, 1 + dim)


def test_per_seed_groups_read_group_by_group(tmp_path):
    path = write_per_seed(tmp_path / "2D_diff-react_NA_NA.h5", n=3, space=(6, 5), channels=2)
    with open_pdebench(path) as file:
        data = file.fields["data"]
        assert file.attrs["layout"] == "per_seed" and data.shape == (3, 4, 6, 5, 2)
        assert data.channel_names == ("data0", "data1")
        np.testing.assert_array_equal(
            data.read(np.array([0, 2]), -1),
            np.stack([seed_data(s, 4, (6, 5), 2)[-1] for s in (0, 2)]),
        )
        np.testing.assert_array_equal(
            data.read(slice(1, 2), slice(1, 3))[0], seed_data(1, 4, (6, 5), 2)[1:3]
        )
        assert data.read(slice(0, 0)).shape == (0, 4, 6, 5, 2)
        np.testing.assert_allclose(file.times, np.linspace(0, 1, 4), rtol=1e-6)
        assert set(file.coordinates) == {"x", "y"} and "0000 to 0002" in file.attrs["seeds"]
        sample = read_sample(file, "data[0]", "data[-1]")
    assert sample["x"].shape == (3, 6, 5, 2)
    # 1D diffusion-sorption: [n_t, x, 1] per seed, grid/t with one extra entry
    with open_pdebench(
        write_per_seed(tmp_path / "sorp.h5", space=(8,), channels=1, extra_time=True)
    ) as file:
        assert file.fields["data"].shape == (3, 4, 8, 1) and len(file.times) == 4


def test_incompressible_navier_stokes(tmp_path):
    with open_pdebench(write_ns_incom(tmp_path / "ns_incom_inhom_2d_512-0.h5")) as file:
        assert file.fields["velocity"].shape == (2, 4, 6, 5, 2)
        assert file.fields["velocity"].channel_names == ("vx", "vy")
        assert file.fields["particles"].shape == (2, 4, 6, 5, 1)
        assert (
            file.fields["force"].shape == (2, 6, 5, 2) and not file.fields["force"].time_dependent
        )
        np.testing.assert_array_equal(
            file.fields["force"].read(slice(1, 2)), values((2, 6, 5, 2), 9000.0)[1:2]
        )
        np.testing.assert_allclose(file.times, np.linspace(0, 1, 4))


class _Reads:
    """Records which datasets h5py reads data from."""

    def __init__(self, monkeypatch):
        self.names = []
        original = h5py.Dataset.__getitem__

        def getitem(dataset, index):
            self.names.append(dataset.name)
            return original(dataset, index)

        monkeypatch.setattr(h5py.Dataset, "__getitem__", getitem)


def test_opening_reads_no_field_data(tmp_path, monkeypatch):
    path = tmp_path / "huge.hdf5"
    with h5py.File(path, "w") as f:  # 82 GB declared, nothing written
        f.create_dataset("tensor", shape=(100_000, 201, 1024), dtype="f4")
        f["x-coordinate"] = np.linspace(0, 1, 1024)
        f["t-coordinate"] = np.linspace(0, 2, 202)
    assert path.stat().st_size < 100_000
    reads = _Reads(monkeypatch)
    start = time.perf_counter()
    with open_pdebench(path) as file:
        assert time.perf_counter() - start < 1.0
        assert file.fields["tensor"].shape == (100_000, 201, 1024, 1)
        assert "/tensor" not in reads.names
        assert file.fields["tensor"].read(slice(5, 7), 3).shape == (2, 1024, 1)
        assert reads.names.count("/tensor") == 1
    per_seed = write_per_seed(tmp_path / "seeds.h5", n=4)
    reads.names.clear()
    with open_pdebench(per_seed) as file:
        assert not [n for n in reads.names if n.endswith("/data")]
        file.fields["data"].read(np.array([1, 3]), 0)
        assert [n for n in reads.names if n.endswith("/data")] == ["/0001/data", "/0003/data"]


def _drop(key):
    def edit(f):
        del f[key]

    return edit


def _replace(key, shape):
    def edit(f):
        del f[key]
        f[key] = np.zeros(shape, np.float32)

    return edit


@pytest.mark.parametrize(
    "writer, edit, message",
    [
        (write_cfd, _drop("pressure"), r"key 'pressure' is missing"),
        (write_cfd, _drop("Vy"), r"key 'Vy' is missing"),
        (
            write_cfd,
            _replace("Vy", (3, 4, 6, 4)),
            r"'Vy' has shape \(3, 4, 6, 4\), expected \(3, 4, 6, 5\)",
        ),
        (
            write_darcy,
            _replace("tensor", (3, 2, 6, 5)),
            r"'tensor' has shape \(3, 2, 6, 5\), expected \[n, 1",
        ),
        (write_darcy, _replace("nu", (3,)), r"'nu' has shape \(3,\), expected \[n, nx, ny\]"),
        (write_tensor, _replace("tensor", (3, 4)), r"'tensor' has shape \(3, 4\)"),
        (write_tensor, _replace("x-coordinate", (7,)), r"'x-coordinate' has 7 points, expected 8"),
        (
            write_tensor,
            _replace("t-coordinate", (9,)),
            r"'t-coordinate' has 9 entries, expected 4 or 5",
        ),
        (
            write_per_seed,
            _replace("0002/data", (4, 6, 5, 1)),
            r"'0002/data' has shape \(4, 6, 5, 1\)",
        ),
        (write_per_seed, _drop("0001/data"), r"key '0001/data' is missing"),
        (write_ns_incom, _replace("force", (2, 6, 4, 2)), r"'force' has shape \(2, 6, 4, 2\)"),
        (write_tensor, lambda f: f.move("tensor", "other"), r"not a PDEBench file: .*\['other'"),
    ],
)
def test_bad_keys_and_shapes_are_named(tmp_path, writer, edit, message):
    path = writer(tmp_path / "bad.hdf5")
    with h5py.File(path, "r+") as f:
        edit(f)
    with pytest.raises(DataFormatError, match=r"bad.hdf5: " + message):
        open_pdebench(path)


@pytest.mark.parametrize("writer", [write_tensor, write_cfd, write_per_seed, write_darcy])
def test_truncated_files_are_refused(tmp_path, writer):
    whole = writer(tmp_path / "whole.hdf5").read_bytes()
    path = tmp_path / "cut.hdf5"
    path.write_bytes(whole[: len(whole) // 2])
    message = "cut.hdf5: (not a readable HDF5 file|cannot read)"
    with pytest.raises(DataFormatError, match=message), open_pdebench(path) as file:
        for field in file.fields.values():
            field.read(slice(None))


def test_corrupt_data_names_the_key_when_read(tmp_path):
    path = tmp_path / "corrupt.hdf5"
    with h5py.File(path, "w") as f:
        f.create_dataset("tensor", data=values((3, 4, 64)), chunks=(1, 4, 64), compression="gzip")
        f["x-coordinate"] = np.arange(64.0)
        offset = f["tensor"].id.get_chunk_info(1).byte_offset
    with open(path, "r+b") as stream:
        stream.seek(offset)
        stream.write(b"\xff" * 32)
    with open_pdebench(path) as file:
        file.fields["tensor"].read(slice(0, 1))  # an intact chunk
        with pytest.raises(DataFormatError, match="corrupt.hdf5: cannot read 'tensor'"):
            file.fields["tensor"].read(slice(1, 2))


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="gone.hdf5: no such PDEBench file"):
        open_pdebench(tmp_path / "gone.hdf5")
    (tmp_path / "notes.txt").write_text("not hdf5")
    with pytest.raises(DataFormatError, match="notes.txt: not a readable HDF5 file"):
        open_pdebench(tmp_path / "notes.txt")


def test_detect(tmp_path):
    for writer in (write_tensor, write_darcy, write_cfd, write_per_seed, write_ns_incom):
        assert detect_pdebench(writer(tmp_path / f"{writer.__name__}.h5"))
    with h5py.File(tmp_path / "opjax.h5", "w") as f:
        f.attrs["format"] = "opjax-h5"
        f["fields/u"] = np.zeros((2, 3, 4))
    assert not detect_pdebench(tmp_path / "opjax.h5")
    assert not detect_pdebench(write_v73(tmp_path / "ns.mat", ns_variables()))
    (tmp_path / "notes.txt").write_text("not hdf5")
    assert not detect_pdebench(tmp_path / "notes.txt")
    assert not detect_pdebench(tmp_path / "missing.h5")
