"""opjax: neural operators and PDE surrogates in JAX.

Importing opjax keeps freed host memory in the process (glibc ``malloc`` settings, see
:mod:`opjax.host_memory`), which makes XLA's CPU programs markedly faster on virtual
machines; set ``OPJAX_RETAIN_FREED_MEMORY=0`` before importing it to keep glibc's defaults.

``opjax.load`` (:func:`opjax.runs.loaded_run.load`) is imported on first use, so that
``import opjax.models`` or ``import opjax.solvers`` does not import the checkpointing
stack.
"""

from opjax.host_memory import retain_freed_memory
from opjax.version import __version__

retain_freed_memory()

__all__ = ["LoadedRun", "__version__", "load"]


def __getattr__(name: str):
    if name in ("LoadedRun", "load"):
        from opjax.runs import loaded_run

        return getattr(loaded_run, name)
    raise AttributeError(f"module 'opjax' has no attribute {name!r}")
