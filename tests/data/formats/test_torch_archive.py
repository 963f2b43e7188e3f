import collections
import contextlib
import io
import pickle
import sys
import types
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


def _fake_torch(monkeypatch):
    """Stand-ins for the names a ``torch.save`` pickle refers to, so that tests can write
    such pickles (with any shapes and strides) without PyTorch."""
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args):
        raise AssertionError("only pickled, never called")

    FloatStorage.__module__, _rebuild_tensor_v2.__module__ = "torch", "torch._utils"
    FloatStorage.__qualname__, _rebuild_tensor_v2.__qualname__ = (
        "FloatStorage",
        "_rebuild_tensor_v2",
    )
    torch.FloatStorage, utils._rebuild_tensor_v2 = FloatStorage, _rebuild_tensor_v2
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return FloatStorage, _rebuild_tensor_v2


class _Storage:
    def __init__(self, numel):
        self.numel = numel


def _tensor_archive(monkeypatch, size, stride, numel) -> bytes:
    """A ``torch.save`` archive of one float32 tensor view of a ``numel`` storage."""
    storage_type, rebuild = _fake_torch(monkeypatch)

    class Tensor:
        def __reduce__(self):
            return rebuild, (_Storage(numel), 0, size, stride, False, collections.OrderedDict())

    class TorchPickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _Storage):
                return ("storage", storage_type, "0", "cpu", obj.numel)
            return None

    buffer = io.BytesIO()
    TorchPickler(buffer, protocol=2).dump({"x": Tensor()})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("archive/data.pkl", buffer.getvalue())
        archive.writestr("archive/data/0", np.arange(numel, dtype="<f4").tobytes())
    return out.getvalue()


def test_a_tensor_view_is_read_with_its_strides(monkeypatch, tmp_path):
    path = tmp_path / "view.pt"
    path.write_bytes(_tensor_archive(monkeypatch, (2, 3), (1, 2), 6))
    np.testing.assert_array_equal(load_torch_archive(path)["x"], np.arange(6).reshape(3, 2).T)


def test_a_tensor_claiming_more_bytes_than_the_file_holds_is_refused(monkeypatch, tmp_path):
    # A few hundred bytes whose one stored value, by zero strides, fills 2^20 x 2^20.
    path = tmp_path / "huge.pt"
    path.write_bytes(_tensor_archive(monkeypatch, (2**20, 2**20), (0, 0), 1))
    assert path.stat().st_size < 1000
    with pytest.raises(DataFormatError, match=r"huge\.pt: a tensor of size \(1048576, 1048576\)"):
        load_torch_archive(path)


def test_a_pickle_cannot_change_what_later_loads_see(neuralop_data, tmp_path):
    # GLOBAL torch.FloatStorage, then BUILD {"dtype": "bad"} on it (PROTO 2 opcodes); then
    # BUILD on the tensor rebuild function (its __defaults__ and __dict__).
    payloads = [
        b"\x80\x02ctorch\nFloatStorage\n}X\x05\x00\x00\x00dtypeX\x03\x00\x00\x00badsb.",
        b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\nN}X\x0c\x00\x00\x00__defaults__"
        b"K\x01\x85s\x86b.",
    ]
    expected = read_neuralop_pt(neuralop_data / "darcy_test_16.pt", n_samples=2)
    for i, payload in enumerate(payloads):
        path = tmp_path / f"tamper{i}.pt"
        path.write_bytes(_archive_with_pickle(payload))
        with contextlib.suppress(DataFormatError):  # refused, or the tampered object
            load_torch_archive(path)
        again = read_neuralop_pt(neuralop_data / "darcy_test_16.pt", n_samples=2)
        np.testing.assert_array_equal(again["y"], expected["y"])
