"""Locks between processes on one machine: one writer of a file or run directory at a time.

A lock is an advisory ``flock`` on a small lock file (:mod:`filelock`): the operating system
releases it when the holder exits, however it exits (``kill -9`` included), so a crashed
holder never leaves a lock behind. The lock file itself stays; it holds nothing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock

log = logging.getLogger("opjax")


class InUseError(OSError):
    """Another process holds the lock of a file or directory this process would write."""


@contextmanager
def exclusive(lock_path: str | os.PathLike, what: str) -> Iterator[None]:
    """Hold the lock ``lock_path``, waiting for another holder to finish first.

    ``what`` names the guarded thing in the log line written while waiting.
    """
    lock = filelock.FileLock(os.fspath(lock_path))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        log.info("waiting for another process writing %s", what)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def hold_or_refuse(lock_path: str | os.PathLike, what: str) -> filelock.BaseFileLock:
    """Take the lock ``lock_path`` now, or raise :class:`InUseError` naming ``what``.

    Returns the held lock; the caller releases it (``.release()``) when done.
    """
    Path(lock_path).parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(os.fspath(lock_path))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        raise InUseError(f"{what} is in use by another opjax process") from None
    return lock
