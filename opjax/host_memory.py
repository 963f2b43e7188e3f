"""Keep freed host memory in the process instead of returning it to the OS.

XLA's CPU runtime allocates its buffers afresh for every call of a compiled function.
glibc serves large requests with ``mmap`` and returns them with ``munmap``, so every
training step faults in its working set page by page again; on virtual machines, where a
page fault is expensive, that can cost more than the arithmetic. Disabling ``mmap`` and
heap trimming keeps the memory in glibc's main heap. XLA's worker threads allocate from
glibc's per-thread arenas, separate ``mmap``-ed heaps that glibc shrinks regardless, so the
function also restricts glibc to the one main arena. glibc assigns a thread its arena at
the thread's first allocation, so this must run before JAX starts its thread pools, that
is before the first computation: ``import opjax`` calls it (see :mod:`opjax`). The effect
on the FNO's train step and inference is measured in
``evaluation/speed/fno_vs_neuralop.md``.

:func:`retain_freed_memory` makes those changes with ``mallopt`` (glibc only; elsewhere,
or with ``OPJAX_RETAIN_FREED_MEMORY=0`` in the environment, it does nothing). The process
keeps its peak host memory until it exits, which is what a training or evaluation run
wants.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger("opjax")

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
_applied = False


def retain_freed_memory() -> bool:
    """Disable glibc's ``mmap`` allocations, heap trimming and per-thread arenas; True when
    applied."""
    global _applied
    if _applied:
        return True
    if os.environ.get("OPJAX_RETAIN_FREED_MEMORY", "1") == "0":
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    libc = ctypes.CDLL(name)
    if not hasattr(libc, "mallopt") or not hasattr(libc, "gnu_get_libc_version"):
        return False
    ok = (
        libc.mallopt(_M_MMAP_MAX, 0) == 1
        and libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1) == 1
        and libc.mallopt(_M_ARENA_MAX, 1) == 1
    )
    _applied = ok
    log.debug(
        "glibc malloc: mmap off, trimming off, one arena (%s)", "applied" if ok else "refused"
    )
    return ok
