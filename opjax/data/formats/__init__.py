"""Readers, one per file format; each returns the Sample schema of :mod:`opjax.data.sample`."""

from opjax.data.formats.neuralop_pt import read_neuralop_pt
from opjax.data.formats.torch_archive import UnsafePickleError, load_torch_archive

READERS = {"neuralop_pt": read_neuralop_pt}

__all__ = ["READERS", "UnsafePickleError", "load_torch_archive", "read_neuralop_pt"]
