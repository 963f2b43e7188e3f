"""The opjax HDF5 reader refuses what is not a whole opjax dataset, naming the problem."""

import h5py
import numpy as np
import pytest

from opjax.data.errors import DataFormatError
from opjax.data.formats import read_dataset, read_opjax_h5
from opjax.data.formats.opjax_h5 import parse_field_key


def write(path, complete=True, n=4):
    with h5py.File(path, "w") as f:
        f.attrs.update(format="opjax-h5", complete=complete, n_samples=n, n_written=n)
        u = f.create_dataset(
            "fields/u", data=np.arange(n * 3 * 8, dtype=np.float32).reshape(n, 3, 8)
        )
        u.attrs["time_dependent"] = True
        f.create_dataset("fields/a", data=np.ones((n, 8), np.float32)).attrs["time_dependent"] = (
            False
        )
    return path


def test_reads_fields_and_times(tmp_path):
    path = write(tmp_path / "d.h5")
    sample = read_dataset("opjax_h5", str(path), x_key="a", y_key="u[-1]", n_samples=3)
    assert sample["x"].shape == (3, 8, 1)
    np.testing.assert_array_equal(sample["y"][:, :, 0], np.arange(96).reshape(4, 3, 8)[:3, 2])


@pytest.mark.parametrize(
    "key, expected",
    [
        ("u", ("u", None)),
        ("u[0]", ("u", 0)),
        (" u[-1] ", ("u", -1)),
        ("u[1:]", ("u", slice(1, None))),
        ("u[:2]", ("u", slice(None, 2))),
    ],
)
def test_field_keys(key, expected):
    assert parse_field_key(key) == expected


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"x_key": "v[0]"}, r"no field 'v' \(fields: \['a', 'u'\]\)"),
        ({"x_key": "u[3]"}, "time index 3 of field 'u' is out of range"),
        ({"x_key": "a[0]"}, "field 'a' has no time axis"),
        ({"x_key": "u[]"}, "bad field key 'u\\[\\]'"),
        ({"x_key": "u[0", "y_key": "u"}, "bad field key"),
        ({"n_samples": 5}, "asked for 5 samples, the file has 4"),
        ({"x_key": "a,u"}, "have different shapes"),
    ],
)
def test_bad_keys_are_named(tmp_path, kwargs, message):
    path = write(tmp_path / "d.h5")
    with pytest.raises(DataFormatError, match=message):
        read_opjax_h5(path, **{"x_key": "u[0]", "y_key": "u[-1]", **kwargs})


def test_incomplete_foreign_corrupt_and_missing_files(tmp_path):
    with pytest.raises(DataFormatError, match="incomplete dataset"):
        read_opjax_h5(write(tmp_path / "half.h5", complete=False))
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(DataFormatError, match="not an opjax dataset"):
        read_opjax_h5(tmp_path / "other.h5")
    (tmp_path / "bad.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 20)
    with pytest.raises(DataFormatError, match="bad.h5: not a readable HDF5 file"):
        read_opjax_h5(tmp_path / "bad.h5")
    (tmp_path / "gone.h5.partial").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="unfinished .*gone.h5.partial"):
        read_opjax_h5(tmp_path / "gone.h5")
