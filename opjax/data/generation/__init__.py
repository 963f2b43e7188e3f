"""Dataset generation: ``opjax generate datasets/RECIPE.toml`` writes opjax HDF5 files.

A dataset recipe (:mod:`~opjax.data.generation.recipe`) names a problem (a generator in
:mod:`~opjax.data.generation.problems`), its parameters, a seed and the splits;
:func:`generate` writes each split as ``<output>/<split>.h5`` in the layout of
:mod:`opjax.data.formats.opjax_h5`, resumably (:mod:`~opjax.data.generation.writer`).
"""

from opjax.data.generation.problem import Problem
from opjax.data.generation.problems import PROBLEMS
from opjax.data.generation.recipe import load_dataset_recipe
from opjax.data.generation.writer import generate, generate_split, recorded_problem, sample_keys

__all__ = [
    "PROBLEMS",
    "Problem",
    "generate",
    "generate_split",
    "load_dataset_recipe",
    "recorded_problem",
    "sample_keys",
]
