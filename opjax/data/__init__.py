"""Data: the Sample schema, file-format readers, normalisers and batching."""

from opjax.data.errors import DataFormatError
from opjax.data.formats import FORMATS, read_neuralop_pt
from opjax.data.normalizers import Normalizers, UnitGaussianNormalizer
from opjax.data.sample import Sample, validate_sample

__all__ = [
    "FORMATS",
    "DataFormatError",
    "Normalizers",
    "Sample",
    "UnitGaussianNormalizer",
    "read_neuralop_pt",
    "validate_sample",
]
