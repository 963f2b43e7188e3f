"""The known file formats: how to recognise a file, and how to open it lazily.

Each :class:`Format` opens a file as a :class:`~opjax.data.fields.FieldFile`;
:func:`detect_format` tries the cheap ``detect`` checks in order (metadata only), and
:func:`read_dataset` builds the Sample schema from field keys, as the trainer asks.
"""

from __future__ import annotations

import dataclasses
import os
import zipfile
from collections.abc import Callable

import h5py

from opjax.data.errors import DataFormatError
from opjax.data.fields import FieldFile, read_sample
from opjax.data.formats.fno_mat import detect_fno_mat, open_fno_mat
from opjax.data.formats.neuralop_pt import open_neuralop_pt, read_neuralop_pt
from opjax.data.formats.opjax_h5 import FORMAT as OPJAX_H5_FORMAT
from opjax.data.formats.opjax_h5 import open_opjax_h5
from opjax.data.formats.pdebench import detect_pdebench, open_pdebench
from opjax.data.formats.poseidon import detect_poseidon, open_poseidon
from opjax.data.formats.the_well import detect_the_well, open_the_well
from opjax.data.sample import Sample


@dataclasses.dataclass(frozen=True)
class Format:
    """A file format: ``open(path, **options) -> FieldFile`` and ``detect(path) -> bool``."""

    name: str
    open: Callable[..., FieldFile]
    detect: Callable[[str], bool]
    description: str


def _is_opjax_h5(path: str) -> bool:
    if not h5py.is_hdf5(path):
        return False
    with h5py.File(path, "r") as f:
        return f.attrs.get("format") == OPJAX_H5_FORMAT


def _is_torch_archive(path: str) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("data.pkl") for name in archive.namelist())


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("opjax_h5", open_opjax_h5, _is_opjax_h5, "opjax's own HDF5 (opjax generate)"),
        Format("the_well", open_the_well, detect_the_well, "The Well HDF5"),
        Format("poseidon", open_poseidon, detect_poseidon, "Poseidon (scOT) NetCDF4 datasets"),
        Format("pdebench", open_pdebench, detect_pdebench, "PDEBench HDF5 (single or per-seed)"),
        Format("fno_mat", open_fno_mat, detect_fno_mat, "FNO paper .mat (MATLAB v5 or v7.3)"),
        Format("neuralop_pt", open_neuralop_pt, _is_torch_archive, "neuraloperator .pt"),
    )
}


def detect_format(path: str | os.PathLike) -> str:
    """The name of the first format whose ``detect`` accepts ``path``."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    for name, fmt in FORMATS.items():
        try:
            if fmt.detect(path):
                return name
        except OSError:
            continue
    raise DataFormatError(f"{path}: not a file of any known format ({', '.join(FORMATS)})")


def open_dataset(path: str | os.PathLike, fmt: str | None = None, **options) -> FieldFile:
    """Open ``path`` lazily with format ``fmt`` (detected when None)."""
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise DataFormatError(f"{path}: unknown data format {fmt!r}; known: {sorted(FORMATS)}")
    return FORMATS[fmt].open(os.fspath(path), **options)


def read_dataset(
    fmt: str,
    path: str,
    *,
    x_key: str,
    y_key: str,
    n_samples: int | None = None,
    split: str | None = None,
) -> Sample:
    """The Sample ``{"x", "y"}`` of a file: fields ``x_key``, ``y_key`` (see
    :func:`~opjax.data.fields.parse_field_key`), first ``n_samples`` of the file or split."""
    if fmt not in FORMATS:
        raise DataFormatError(
            f"{path}: unknown data format {fmt!r} (recipe key data.format); "
            f"known: {sorted(FORMATS)}"
        )
    if fmt == "neuralop_pt":  # its keys name whole tensors; keeps the original reader's checks
        return read_neuralop_pt(path, x_key=x_key, y_key=y_key, n_samples=n_samples)
    with open_dataset(path, fmt) as file:
        return read_sample(file, x_key, y_key, n_samples, split)
