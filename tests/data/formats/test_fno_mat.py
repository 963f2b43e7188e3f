"""The FNO ``.mat`` reader: the paper's three files as MATLAB v5 and v7.3, time moved from
last to axis 1, v7.3 read lazily, and bad files refused naming the file and variable."""

import time

import h5py
import numpy as np
import pytest
import scipy.io

from opjax.data.errors import DataFormatError
from opjax.data.fields import read_sample
from opjax.data.formats.fno_mat import detect_fno_mat, open_fno_mat
from tests.data.formats.fno_mat_files import (
    burgers_variables,
    darcy_variables,
    ns_variables,
    write_v5,
    write_v73,
)
from tests.data.formats.pdebench_files import write_tensor

WRITERS = {"v5": write_v5, "v7.3": write_v73}


@pytest.fixture(params=["v5", "v7.3"])
def write(request):
    return WRITERS[request.param]


def test_darcy(tmp_path, write):
    variables = darcy_variables(n=3, s=5)
    with open_fno_mat(write(tmp_path / "piececonst_r421_N1024_smooth1.mat", variables)) as file:
        assert file.format == "fno_mat" and file.times is None
        assert set(file.fields) == {"coeff", "Kcoeff", "Kcoeff_x", "Kcoeff_y", "sol"}
        for name, value in variables.items():
            assert file.fields[name].shape == (3, 5, 5, 1)
            assert not file.fields[name].time_dependent
            np.testing.assert_array_equal(file.fields[name].read(slice(None))[..., 0], value)
        np.testing.assert_array_equal(
            file.fields["sol"].read(np.array([0, 2]))[..., 0], variables["sol"][[0, 2]]
        )
        sample = read_sample(file, "coeff", "sol", n_samples=2)
    assert sample["x"].shape == (2, 5, 5, 1) and sample["x"].dtype == np.float32


def test_burgers_and_a_scalar_parameter(tmp_path, write):
    variables = {**burgers_variables(n=3, s=16), "visc": np.array([[0.1]])}
    with open_fno_mat(write(tmp_path / "burgers_data_R10.mat", variables)) as file:
        assert set(file.fields) == {"a", "u"} and file.params == {"visc": 0.1}
        assert file.fields["a"].shape == (3, 16, 1) and not file.fields["u"].time_dependent
        sample = read_sample(file, "a", "u")
    np.testing.assert_array_equal(sample["x"][..., 0], variables["a"])
    np.testing.assert_array_equal(sample["y"][..., 0], variables["u"])


def test_navier_stokes_time_moves_from_last_to_axis_1(tmp_path, write):
    variables = ns_variables(n=3, s=4, n_t=5)
    u = variables["u"]  # [n, s, s, T]
    with open_fno_mat(write(tmp_path / "ns_V1e-3_N5000_T50.mat", variables)) as file:
        field = file.fields["u"]
        assert field.shape == (3, 5, 4, 4, 1) and field.time_dependent
        assert file.fields["a"].shape == (3, 4, 4, 1) and not file.fields["a"].time_dependent
        np.testing.assert_array_equal(file.times, [1, 2, 3, 4, 5])
        np.testing.assert_array_equal(file.constants["t"], [1, 2, 3, 4, 5])
        np.testing.assert_array_equal(field.read(slice(None))[..., 0], np.moveaxis(u, -1, 1))
        np.testing.assert_array_equal(field.read(np.array([0, 2]), 3)[..., 0], u[[0, 2], ..., 3])
        np.testing.assert_array_equal(
            field.read(slice(1, 2), slice(1, 3))[..., 0], np.moveaxis(u[1:2, ..., 1:3], -1, 1)
        )
        sample = read_sample(file, "u[0]", "u[-1]")
        np.testing.assert_array_equal(sample["x"][..., 0], u[..., 0])
        np.testing.assert_array_equal(sample["y"][..., 0], u[..., -1])
        trajectory = read_sample(file, "a", "u[1:]", n_samples=2)["y"]
    assert trajectory.shape == (2, 4, 4, 4, 1)


def test_u_without_matching_times_is_steady(tmp_path, write):
    variables = {**ns_variables(n=3, s=4, n_t=5), "t": np.arange(1.0, 4.0)[None]}
    with open_fno_mat(write(tmp_path / "ns.mat", variables)) as file:
        assert file.fields["u"].shape == (3, 4, 4, 5, 1) and file.times is None


class _Reads:
    """Records which datasets h5py reads data from, and with which index."""

    def __init__(self, monkeypatch):
        self.calls = []
        original = h5py.Dataset.__getitem__

        def getitem(dataset, index):
            self.calls.append((dataset.name, index))
            return original(dataset, index)

        monkeypatch.setattr(h5py.Dataset, "__getitem__", getitem)


def test_v73_is_lazy(tmp_path, monkeypatch):
    path = tmp_path / "huge.mat"
    write_v73(path, {"t": np.arange(1.0, 201.0)[None]})
    with h5py.File(path, "r+") as f:  # MATLAB u [5000, 64, 64, 200]: 33 GB, nothing written
        u = f.create_dataset("u", shape=(200, 64, 64, 5000), dtype="f4")
        u.attrs["MATLAB_class"] = np.bytes_("single")
        a = f.create_dataset("a", shape=(64, 64, 5000), dtype="f4")
        a.attrs["MATLAB_class"] = np.bytes_("single")
    assert path.stat().st_size < 100_000
    reads = _Reads(monkeypatch)
    start = time.perf_counter()
    with open_fno_mat(path) as file:
        assert time.perf_counter() - start < 1.0
        assert file.fields["u"].shape == (5000, 200, 64, 64, 1)
        assert not [name for name, _ in reads.calls if name in ("/u", "/a")]
        assert file.fields["u"].read(slice(10, 12), -1).shape == (2, 64, 64, 1)
        assert reads.calls[-1] == ("/u", (199, slice(None), slice(None), slice(10, 12)))


def test_v5_loads_a_variable_on_its_first_read_only(tmp_path, monkeypatch):
    path = write_v5(tmp_path / "ns.mat", ns_variables())
    loaded = []
    original = scipy.io.loadmat

    def loadmat(*args, **kwargs):
        loaded.extend(kwargs.get("variable_names") or ["<all>"])
        return original(*args, **kwargs)

    monkeypatch.setattr(scipy.io, "loadmat", loadmat)
    with open_fno_mat(path) as file:
        assert loaded == ["t"]
        file.fields["u"].read(slice(0, 1), 0)
        file.fields["u"].read(slice(1, 3))
        assert loaded == ["t", "u"]


def test_truncated_files_name_the_file(tmp_path):
    variables = darcy_variables(n=4, s=6)
    for name, write in (("v5.mat", write_v5), ("v73.mat", write_v73)):
        whole = write(tmp_path / name, variables).read_bytes()
        cut = tmp_path / f"cut_{name}"
        cut.write_bytes(whole[: len(whole) // 2])
        with pytest.raises(DataFormatError, match=f"cut_{name}: .*(truncated|not a readable)"):
            open_fno_mat(cut)
    whole = write_v5(tmp_path / "b.mat", burgers_variables()).read_bytes()
    (tmp_path / "b_cut.mat").write_bytes(whole[:-40])
    with pytest.raises(DataFormatError, match="b_cut.mat: truncated MATLAB file: variable 'u'"):
        open_fno_mat(tmp_path / "b_cut.mat")


def test_files_without_fields_or_not_matlab(tmp_path):
    with pytest.raises(FileNotFoundError, match="gone.mat: no such .mat file"):
        open_fno_mat(tmp_path / "gone.mat")
    (tmp_path / "notes.mat").write_text("hello")
    with pytest.raises(DataFormatError, match="notes.mat: not a MATLAB v5/v7 file"):
        open_fno_mat(tmp_path / "notes.mat")
    write_v5(tmp_path / "text.mat", {"title": "no arrays here", "k": np.array([[3.0]])})
    with pytest.raises(DataFormatError, match=r"text.mat: no numeric array .* \['k', 'title'\]"):
        open_fno_mat(tmp_path / "text.mat")
    with h5py.File(tmp_path / "plain.mat", "w") as f:
        f["x"] = np.zeros((3, 4))
    with pytest.raises(DataFormatError, match="plain.mat: 'x' has no MATLAB_class"):
        open_fno_mat(tmp_path / "plain.mat")


def test_detect(tmp_path):
    assert detect_fno_mat(write_v5(tmp_path / "a.mat", burgers_variables()))
    assert detect_fno_mat(write_v73(tmp_path / "b.mat", burgers_variables()))
    assert detect_fno_mat(write_v73(tmp_path / "c.mat", burgers_variables(), header=False))
    assert not detect_fno_mat(write_tensor(tmp_path / "p.hdf5"))
    (tmp_path / "notes.txt").write_text("hello")
    assert not detect_fno_mat(tmp_path / "notes.txt")
    assert not detect_fno_mat(tmp_path / "missing.mat")
