"""Readers, one per file format; each opens a file as a lazy
:class:`~opjax.data.fields.FieldFile` (see :mod:`opjax.data.formats.registry`)."""

from opjax.data.errors import DataFormatError
from opjax.data.formats.fno_mat import open_fno_mat
from opjax.data.formats.neuralop_pt import open_neuralop_pt, read_neuralop_pt
from opjax.data.formats.opjax_h5 import open_opjax_h5, read_opjax_h5
from opjax.data.formats.pdebench import open_pdebench
from opjax.data.formats.poseidon import open_poseidon
from opjax.data.formats.registry import (
    FORMATS,
    Format,
    detect_format,
    open_dataset,
    read_dataset,
)
from opjax.data.formats.the_well import open_the_well
from opjax.data.formats.torch_archive import UnsafePickleError, load_torch_archive

__all__ = [
    "FORMATS",
    "DataFormatError",
    "Format",
    "UnsafePickleError",
    "detect_format",
    "load_torch_archive",
    "open_dataset",
    "open_fno_mat",
    "open_neuralop_pt",
    "open_opjax_h5",
    "open_pdebench",
    "open_poseidon",
    "open_the_well",
    "read_dataset",
    "read_neuralop_pt",
    "read_opjax_h5",
]
