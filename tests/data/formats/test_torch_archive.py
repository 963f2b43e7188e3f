import io
import pickle
import zipfile

import numpy as np
import pytest

from opjax.data import DataFormatError, read_neuralop_pt
from opjax.data.formats import UnsafePickleError, load_torch_archive


def test_reads_the_real_darcy_files(neuralop_data):
    train = read_neuralop_pt(neuralop_data / "darcy_train_16.pt")
    assert train["x"].shape == (1000, 16, 16, 1) and train["y"].shape == (1000, 16, 16, 1)
    assert train["x"].dtype == np.float32
    assert set(np.unique(train["x"])) == {0.0, 1.0}  # two-valued permeability, stored as bool
    test32 = read_neuralop_pt(neuralop_data / "darcy_test_32.pt", n_samples=10)
    assert test32["x"].shape == (10, 32, 32, 1)
    # Pressure is small next to the Dirichlet boundary and positive inside.
    y = train["y"][..., 0]
    assert np.abs(y[:, 0]).mean() < 0.1 * y[:, 8, 8].mean()
    assert y[:, 8, 8].min() > 0


def test_honours_tensor_strides(neuralop_data):
    """burgers x is saved as a transposed view (stride (1, 1200)); y[:, 0] is the same data."""
    content = load_torch_archive(neuralop_data / "burgers_train_16.pt")
    assert content["x"].shape == (800, 16) and content["x"].dtype == np.float64
    assert content["y"].shape == (800, 17, 16)
    np.testing.assert_array_equal(content["y"][:, 0, :], content["x"])
    assert float(content["visc"][0, 0]) == pytest.approx(0.01)


class _Exploit:
    """Unpickling this runs a shell command, which must never happen."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def _archive_with_pickle(payload: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/version", "3\n")
    return buffer.getvalue()


def test_never_runs_pickled_code(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"x": _Exploit(marker)}, protocol=2)
    path = tmp_path / "evil.pt"
    path.write_bytes(_archive_with_pickle(payload))
    with pytest.raises(UnsafePickleError, match=r"evil\.pt.*(posix|os)\.system"):
        load_torch_archive(path)
    assert not marker.exists()


def test_truncated_file_names_the_file(neuralop_data, tmp_path):
    data = (neuralop_data / "darcy_test_16.pt").read_bytes()
    path = tmp_path / "truncated.pt"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match=r"truncated\.pt"):
        read_neuralop_pt(path)


def test_corrupt_storage_is_detected(neuralop_data, tmp_path):
    """A storage shorter than its tensor needs is an error, not an out-of-bounds read."""
    with zipfile.ZipFile(neuralop_data / "darcy_test_16.pt") as source:
        entries = {name: source.read(name) for name in source.namelist()}
    storage = next(n for n in entries if n.endswith("/data/1"))
    entries[storage] = entries[storage][:100]
    path = tmp_path / "short.pt"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    with pytest.raises(DataFormatError, match=r"short\.pt: storage .* holds 100 bytes"):
        load_torch_archive(path)


def test_missing_key_and_missing_file(neuralop_data, tmp_path):
    with pytest.raises(
        DataFormatError, match=r"missing key 'u' for the x field; keys: \['x', 'y'\]"
    ):
        read_neuralop_pt(neuralop_data / "darcy_test_16.pt", x_key="u")
    with pytest.raises(DataFormatError, match="nothing.pt: no such file"):
        read_neuralop_pt(tmp_path / "nothing.pt")
    not_zip = tmp_path / "plain.pt"
    not_zip.write_bytes(b"not a zip archive")
    with pytest.raises(DataFormatError, match="plain.pt: corrupt or truncated"):
        read_neuralop_pt(not_zip)
