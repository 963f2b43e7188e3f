"""Orbax checkpoints of a run: ``checkpoints/latest`` (the last two) and
``checkpoints/best`` (the best one by the run's selection metric).

Each checkpoint holds the train state ``{"params", "opt_state", "step"}`` (and ``"ema"``,
the moving average of the variables, when the run keeps one) and a JSON
``meta`` record (epoch, best metric so far). Orbax writes a checkpoint into a temporary
directory and renames it into place once complete, so a process killed mid-write leaves
at most a temporary directory, which is never listed as a step and is removed on the next
open: an incomplete checkpoint is never the one restored.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import orbax.checkpoint as ocp


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


class RunCheckpoints:
    """The ``latest`` and ``best`` checkpoint managers under ``directory``."""

    def __init__(self, directory: str, read_only: bool = False):
        self.directory = directory
        self._managers = {
            "latest": _manager(os.path.join(directory, "latest"), 2, read_only),
            "best": _manager(os.path.join(directory, "best"), 1, read_only),
        }

    def latest_step(self, which: str = "latest") -> int | None:
        return self._managers[which].latest_step()

    def save(self, which: str, step: int, state: Any, meta: dict) -> None:
        """Save ``state`` as ``step``; a step already present is kept as it is.

        The arrays are copied to host memory before this returns (so the caller may donate
        them to the next step); the files are written in the background and committed
        atomically. :meth:`close` blocks until every save is on disk.
        """
        manager = self._managers[which]
        manager.wait_until_finished()
        if step in manager.all_steps():
            return
        args = ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta))
        manager.save(step, args=args)

    def _step(self, which: str, step: int | None) -> int:
        step = self._managers[which].latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no complete {which!r} checkpoint in {self.directory}")
        return step

    def restore(self, which: str, template: Any, step: int | None = None) -> tuple[Any, dict]:
        """Restore onto the structure, dtypes and shardings of ``template``."""
        step = self._step(which, step)
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
        args = ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()
        )
        restored = self._managers[which].restore(step, args=args)
        return restored["state"], dict(restored["meta"])

    def restore_params(
        self, which: str, template: Any, step: int | None = None, key: str = "params"
    ) -> Any:
        """Restore only ``state[key]`` (the variables ``"params"``, or their moving average
        ``"ema"``) onto the structure of ``template``."""
        step = self._step(which, step)
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
        target = {key: abstract}
        restore = ocp.args.PyTreeRestore(
            target,
            restore_args=ocp.checkpoint_utils.construct_restore_args(target),
            partial_restore=True,
        )
        restored = self._managers[which].restore(step, args=ocp.args.Composite(state=restore))
        return restored["state"][key]

    def close(self) -> None:
        """Finish pending saves and release the managers."""
        for manager in self._managers.values():
            manager.wait_until_finished()
            manager.close()
