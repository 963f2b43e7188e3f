"""Orbax checkpoints of a run: ``checkpoints/latest`` (the last two) and
``checkpoints/best`` (the best two by the run's selection metric, the newest first).

Each checkpoint holds the train state ``{"params", "opt_state", "step"}`` (and ``"ema"``,
the moving average of the variables, when the run keeps one) and a JSON ``meta`` record
(epoch, step, best metric so far).

Orbax writes a checkpoint into a temporary directory and renames it into place once
complete, so a process killed mid-write leaves at most a temporary directory, which is
never listed as a step and is removed on the next open. Once a step is committed, opjax
records the size and SHA-256 of every file in it (``opjax_checksums.json``, inside the
step). Every restore verifies them first: a step whose files changed, went missing or were
cut short, or one killed before its checksums were written, is reported by name and the
newest intact step is used instead (a run written before checksums existed, with none in
any step, is read unverified). Saves are serialised: a ``best`` step is committed before
the ``latest`` step of the same epoch is started, so after a kill ``latest`` never records
a best epoch that ``best`` lacks.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from opjax.runs.directory import atomic_write

log = logging.getLogger("opjax")

CHECKSUMS = "opjax_checksums.json"
_KEEP = {"latest": 2, "best": 2}


class CheckpointError(OSError):
    """No intact checkpoint of the kind asked for: every step is corrupt or incomplete."""


def _manager(directory: str, max_to_keep: int, read_only: bool = False) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(
        max_to_keep=None if read_only else max_to_keep,
        save_interval_steps=0 if read_only else 1,
        enable_async_checkpointing=True,
        cleanup_tmp_directories=not read_only,
        create=not read_only,
        read_only=read_only,
    )
    return ocp.CheckpointManager(os.path.abspath(directory), options=options)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(step_dir: Path) -> list[Path]:
    return sorted(p for p in step_dir.rglob("*") if p.is_file() and p.name != CHECKSUMS)


def write_checksums(step_dir: Path) -> None:
    """Record ``{relative path: {"bytes", "sha256"}}`` of every file of a committed step."""
    table = {
        str(p.relative_to(step_dir)): {"bytes": p.stat().st_size, "sha256": _sha256(p)}
        for p in _files(step_dir)
    }
    atomic_write(step_dir / CHECKSUMS, json.dumps(table, indent=1, sort_keys=True) + "\n")


def checksum_problem(step_dir: Path) -> str | None:
    """What is wrong with a step's files (a sentence naming the file), or None if intact."""
    try:
        table = json.loads((step_dir / CHECKSUMS).read_text())
    except FileNotFoundError:
        return "has no checksums (the run stopped before they were written)"
    except (OSError, ValueError) as err:
        return f"has an unreadable {CHECKSUMS} ({err})"
    if not isinstance(table, dict):
        return f"has a malformed {CHECKSUMS}"
    for name, entry in table.items():
        path = step_dir / name
        if not path.is_file():
            return f"lost its file {name}"
        if path.stat().st_size != entry.get("bytes"):
            return f"has {name} of {path.stat().st_size} bytes, written with {entry.get('bytes')}"
        if _sha256(path) != entry.get("sha256"):
            return f"has {name} changed since it was written (checksum mismatch)"
    extra = {str(p.relative_to(step_dir)) for p in _files(step_dir)} - set(table)
    if extra:
        return f"holds files it was not written with: {sorted(extra)}"
    return None


class RunCheckpoints:
    """The ``latest`` and ``best`` checkpoint managers under ``directory``.

    With ``read_only`` (evaluation, loading) nothing on disk changes; otherwise (training)
    the steps a restore had to skip are deleted, so that the run writes them anew.
    """

    def __init__(self, directory: str, read_only: bool = False):
        self.directory = directory
        self._read_only = read_only
        self._managers = {
            which: _manager(os.path.join(directory, which), keep, read_only)
            for which, keep in _KEEP.items()
        }
        self._unsummed: list[tuple[str, int]] = []  # committed, checksums not yet written
        # (which, step) -> checksum_problem: a committed step's files never change under
        # this process, so each is hashed once however often it is asked about.
        self._checked: dict[tuple[str, int], str | None] = {}

    def _step_dir(self, which: str, step: int) -> Path:
        return Path(self._managers[which].directory) / str(step)

    def _finish_saves(self) -> None:
        """Wait for every pending save, then write the checksums of what it committed."""
        for manager in self._managers.values():
            manager.wait_until_finished()
        for which, step in self._unsummed:
            if self._step_dir(which, step).is_dir():
                write_checksums(self._step_dir(which, step))
        self._unsummed.clear()

    def _verifies(self) -> bool:
        """Whether steps are checked: false only for a run written before checksums."""
        return any(
            (self._step_dir(which, step) / CHECKSUMS).exists()
            for which, manager in self._managers.items()
            for step in manager.all_steps()
        )

    def intact_steps(self, which: str = "latest") -> list[int]:
        """The steps of ``which`` whose checksums verify, newest first; each other step is
        reported (logged as a warning, by name) and, when writable, deleted."""
        self._finish_saves()
        verify, intact = self._verifies(), []
        for step in sorted(self._managers[which].all_steps(), reverse=True):
            if verify and (which, step) not in self._checked:
                self._checked[which, step] = checksum_problem(self._step_dir(which, step))
            problem = self._checked.get((which, step)) if verify else None
            if problem is None:
                intact.append(step)
            else:
                self._reject(which, step, problem)
        return intact

    def _reject(self, which: str, step: int, problem: str) -> None:
        step_dir = self._step_dir(which, step)
        if self._read_only:
            log.warning("checkpoint %s %s; skipping it", step_dir, problem)
            return
        log.warning("checkpoint %s %s; deleting it", step_dir, problem)
        shutil.rmtree(step_dir, ignore_errors=True)
        self._checked.pop((which, step), None)
        self._managers[which].reload()

    def latest_step(self, which: str = "latest") -> int | None:
        """The newest intact step of ``which``, or None."""
        steps = self.intact_steps(which)
        return steps[0] if steps else None

    def save(self, which: str, step: int, state: Any, meta: dict) -> None:
        """Save ``state`` as ``step``; a step already present is kept as it is.

        Waits for the previous save (of either kind) to commit first. The arrays are copied
        to host memory before this returns (so the caller may donate them to the next
        step); the files are written in the background. :meth:`close` blocks until every
        save is on disk with its checksums.
        """
        self._finish_saves()
        manager = self._managers[which]
        if step in manager.all_steps():
            return
        args = ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta))
        manager.save(step, args=args)
        self._unsummed.append((which, step))

    def _restore_newest(self, which: str, step: int | None, restore_step):
        """``restore_step(step)`` of the newest intact step (or of ``step``), skipping, by
        name, steps that verify but cannot be read."""
        steps = self.intact_steps(which)
        if step is not None:
            steps = [s for s in steps if s == step]
        failures = []
        for candidate in steps:
            try:
                return restore_step(candidate)
            except Exception as err:  # any reader error: the step is unusable; try the next
                failures.append(f"step {candidate}: {type(err).__name__}: {err}")
                self._reject(which, candidate, f"cannot be read ({err})")
        detail = f" ({'; '.join(failures)})" if failures else ""
        raise CheckpointError(f"no intact {which!r} checkpoint in {self.directory}{detail}")

    def restore(self, which: str, template: Any, step: int | None = None) -> tuple[Any, dict]:
        """Restore the newest intact step (or ``step``) onto the structure, dtypes and
        shardings of ``template``: ``(state, meta)``."""
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)

        def restore_step(candidate: int):
            args = ocp.args.Composite(
                state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()
            )
            restored = self._managers[which].restore(candidate, args=args)
            return restored["state"], dict(restored["meta"])

        return self._restore_newest(which, step, restore_step)

    def restore_meta(self, which: str) -> dict | None:
        """The ``meta`` record of the newest intact step of ``which``, or None."""
        for step in self.intact_steps(which):
            args = ocp.args.Composite(meta=ocp.args.JsonRestore())
            return dict(self._managers[which].restore(step, args=args)["meta"])
        return None

    def restore_params(
        self, which: str, template: Any, step: int | None = None, key: str = "params"
    ) -> Any:
        """Restore only ``state[key]`` (the variables ``"params"``, or their moving average
        ``"ema"``) of the newest intact step onto the structure of ``template``."""
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
        target = {key: abstract}

        def restore_step(candidate: int):
            restore = ocp.args.PyTreeRestore(
                target,
                restore_args=ocp.checkpoint_utils.construct_restore_args(target),
                partial_restore=True,
            )
            args = ocp.args.Composite(state=restore)
            return self._managers[which].restore(candidate, args=args)["state"][key]

        return self._restore_newest(which, step, restore_step)

    def close(self) -> None:
        """Finish pending saves (with their checksums) and release the managers."""
        self._finish_saves()
        for manager in self._managers.values():
            manager.close()
