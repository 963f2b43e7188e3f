"""opjax: neural operators and PDE surrogates in JAX."""

__version__ = "0.1.0"

from opjax.load import LoadedRun, load

__all__ = ["LoadedRun", "__version__", "load"]
