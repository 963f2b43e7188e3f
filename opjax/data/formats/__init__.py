"""Readers, one per file format; each returns the Sample schema of :mod:`opjax.data.sample`."""

from opjax.data.errors import DataFormatError
from opjax.data.formats.neuralop_pt import read_neuralop_pt
from opjax.data.formats.opjax_h5 import read_opjax_h5
from opjax.data.formats.torch_archive import UnsafePickleError, load_torch_archive

READERS = {"neuralop_pt": read_neuralop_pt, "opjax_h5": read_opjax_h5}


def read_dataset(fmt: str, path: str, **options):
    """Read ``path`` with the reader of format ``fmt`` (a key of ``READERS``)."""
    if fmt not in READERS:
        raise DataFormatError(
            f"{path}: unknown data format {fmt!r} (recipe key data.format); "
            f"known: {sorted(READERS)}"
        )
    return READERS[fmt](path, **options)


__all__ = [
    "READERS",
    "UnsafePickleError",
    "load_torch_archive",
    "read_dataset",
    "read_neuralop_pt",
    "read_opjax_h5",
]
