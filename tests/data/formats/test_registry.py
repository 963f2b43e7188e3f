"""Format detection, lazy opening and ``opjax data info`` over the registered formats."""

import h5py
import numpy as np
import pytest

from opjax.cli import main
from opjax.data.errors import DataFormatError
from opjax.data.formats import FORMATS, detect_format, open_dataset, read_dataset


def opjax_file(path, n=3):
    with h5py.File(path, "w") as f:
        f.attrs.update(format="opjax-h5", complete=True, n_samples=n, n_written=n, problem="p")
        u = f.create_dataset("fields/u", data=np.random.default_rng(0).random((n, 5, 8), "f4"))
        u.attrs["time_dependent"] = True
        f["times"] = np.linspace(0, 1, 5)
        f["coordinates/x"] = np.arange(8) / 8
    return path


def test_detects_each_registered_format(tmp_path, neuralop_data):
    assert detect_format(opjax_file(tmp_path / "a.h5")) == "opjax_h5"
    assert detect_format(neuralop_data / "darcy_test_16.pt") == "neuralop_pt"
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataFormatError, match="notes.txt: not a file of any known format"):
        detect_format(tmp_path / "notes.txt")
    with pytest.raises(FileNotFoundError, match="missing.h5: no such file"):
        detect_format(tmp_path / "missing.h5")
    assert {"opjax_h5", "neuralop_pt"} <= set(FORMATS)


def test_open_and_read_through_the_registry(tmp_path, neuralop_data):
    path = opjax_file(tmp_path / "a.h5")
    with open_dataset(path) as file:
        assert file.fields["u"].shape == (3, 5, 8, 1) and file.n_samples == 3
    sample = read_dataset("opjax_h5", str(path), x_key="u[0]", y_key="u[1:3]", n_samples=2)
    assert sample["x"].shape == (2, 8, 1) and sample["y"].shape == (2, 2, 8, 1)
    with open_dataset(neuralop_data / "darcy_test_16.pt") as file:
        assert file.fields["x"].shape == (50, 16, 16, 1)
        np.testing.assert_array_equal(
            file.fields["y"].read(slice(0, 2)),
            read_dataset(
                "neuralop_pt",
                str(neuralop_data / "darcy_test_16.pt"),
                x_key="x",
                y_key="y",
                n_samples=2,
            )["y"],
        )
    with pytest.raises(DataFormatError, match="unknown data format 'hdf9'"):
        read_dataset("hdf9", str(path), x_key="u", y_key="u")


def test_data_info_prints_fields_times_and_coordinates(tmp_path, capsys, neuralop_data):
    assert main(["data", "info", str(opjax_file(tmp_path / "a.h5"))]) == 0
    out = capsys.readouterr().out
    assert "format:   opjax_h5" in out and "samples:  3" in out
    assert "| u | [3, 5, 8, 1] | yes | u |" in out
    assert "times:    5 from 0 to 1" in out and "x:        8 points in [0, 0.875]" in out
    assert main(["data", "info", str(neuralop_data / "darcy_train_16.pt")]) == 0
    assert "| x | [1000, 16, 16, 1] | no |" in capsys.readouterr().out
    assert main(["data", "info", str(tmp_path / "none.h5")]) == 2
    assert "none.h5: no such file" in capsys.readouterr().err


def test_benchmark_layouts_are_detected_by_their_own_format(tmp_path):
    from tests.data.formats import fno_mat_files, pdebench_files

    cases = {
        "pdebench": [
            pdebench_files.write_tensor(tmp_path / "adv.hdf5") or tmp_path / "adv.hdf5",
            pdebench_files.write_darcy(tmp_path / "darcy.hdf5") or tmp_path / "darcy.hdf5",
            pdebench_files.write_per_seed(tmp_path / "rd.h5") or tmp_path / "rd.h5",
        ],
        "fno_mat": [tmp_path / "v5.mat", tmp_path / "v73.mat"],
    }
    fno_mat_files.write_v5(tmp_path / "v5.mat", fno_mat_files.darcy_variables())
    fno_mat_files.write_v73(tmp_path / "v73.mat", fno_mat_files.ns_variables())
    cases["opjax_h5"] = [opjax_file(tmp_path / "gen.h5")]
    for fmt, paths in cases.items():
        for path in paths:
            assert detect_format(path) == fmt, path
            with open_dataset(path) as file:
                assert file.format == fmt and file.n_samples > 0


def test_well_and_poseidon_files_are_detected(tmp_path):
    from tests.data.formats import poseidon_files, the_well_files

    well = the_well_files.write_well_file(tmp_path / "shear_flow.hdf5")
    assert detect_format(well) == "the_well"
    nc = poseidon_files.write_dataset(tmp_path, "NS-PwC", 3)
    assert detect_format(nc) == "poseidon"
    with open_dataset(nc) as file:
        assert file.format == "poseidon" and "velocity" in file.fields
