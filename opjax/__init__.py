"""opjax: neural operators and PDE surrogates in JAX."""

__version__ = "0.1.0"
