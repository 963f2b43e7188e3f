"""The run directory: everything ``evaluate``, ``finetune`` and ``opjax.load`` need.

    RUN_DIR/
      config.toml      the resolved recipe
      model.json       the model card (:mod:`opjax.runs.model_card`)
      checkpoints/     Orbax; latest/ and best/
      metrics.jsonl    one JSON record per epoch
      report/          evaluation tables (JSON, Markdown) and PNG plots
      .lock            held by the process training the run (:func:`claim_run_directory`)

Files are replaced atomically (write a temporary file, fsync, rename), so a crash never
leaves a half-written ``config.toml`` or ``model.json`` where a good one was.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import filelock

from opjax.file_locks import hold_or_refuse

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

CONFIG = "config.toml"
MODEL_CARD = "model.json"
METRICS = "metrics.jsonl"
CHECKPOINTS = "checkpoints"
REPORT = "report"
LOCK = ".lock"

log = logging.getLogger("opjax")


def atomic_write(path: str | os.PathLike, data: str | bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_config(run_dir: str | os.PathLike) -> dict:
    path = Path(run_dir) / CONFIG
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} is not a run directory: {CONFIG} is missing")
    return tomllib.loads(path.read_text())


def read_metrics(run_dir: str | os.PathLike) -> list[dict]:
    """The epoch records of ``metrics.jsonl``, in order. A line that is not a JSON record
    with an ``epoch`` (a crash mid-write, a stray edit) is skipped with a warning naming
    it; the valid records after it are kept."""
    path = Path(run_dir) / METRICS
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        if isinstance(record, dict) and isinstance(record.get("epoch"), int):
            records.append(record)
        elif line.strip():
            log.warning("%s: line %d is not an epoch record; skipped", path, number)
    return records


def append_metrics(run_dir: str | os.PathLike, record: dict) -> None:
    with open(Path(run_dir) / METRICS, "a") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def truncate_metrics(run_dir: str | os.PathLike, last_epoch: int) -> None:
    """Rewrite ``metrics.jsonl`` with one record per epoch ``<= last_epoch`` (used when
    resuming from the checkpoint of ``last_epoch``): unreadable lines are dropped, a
    repeated epoch keeps its last record, and no valid record of those epochs is lost."""
    by_epoch = {r["epoch"]: r for r in read_metrics(run_dir) if r["epoch"] <= last_epoch}
    kept = [by_epoch[epoch] for epoch in sorted(by_epoch)]
    atomic_write(Path(run_dir) / METRICS, "".join(json.dumps(r) + "\n" for r in kept))


@dataclasses.dataclass
class ClaimedRunDirectory:
    """A run directory this process holds (its ``.lock``) while it trains the run.

    Attributes:
        path: the directory.
        created: whether this process made it (so :meth:`discard` may remove it whole).
    """

    path: Path
    created: bool
    _lock: filelock.BaseFileLock

    def has_checkpoint(self) -> bool:
        """Whether a checkpoint step was committed (Orbax names steps by number)."""
        latest = self.path / CHECKPOINTS / "latest"
        return latest.is_dir() and any(p.name.isdigit() for p in latest.iterdir())

    def discard(self) -> None:
        """Remove what a run that trained nothing wrote: the whole directory if this process
        made it, else its ``config.toml``, ``model.json``, metrics and checkpoints."""
        if self.created:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        for name in (CONFIG, MODEL_CARD, METRICS):
            (self.path / name).unlink(missing_ok=True)
        shutil.rmtree(self.path / CHECKPOINTS, ignore_errors=True)

    def release(self) -> None:
        self._lock.release()


def claim_run_directory(
    run_dir: str | os.PathLike, name: str, *, resume: bool = False
) -> ClaimedRunDirectory:
    """Take the run directory ``run_dir``, or when that is empty the first of
    ``runs/<name>``, ``runs/<name>-1``, ... that does not exist yet.

    A numbered directory is claimed by creating it (atomic: two processes never get the
    same one); a named one by its lock, held until :meth:`ClaimedRunDirectory.release`.

    Raises:
        InUseError: another process is training in ``run_dir``.
        FileExistsError: ``run_dir`` already holds a run and ``resume`` is False.
    """
    if run_dir:
        path = Path(run_dir)
        created = not path.exists()
        path.mkdir(parents=True, exist_ok=True)
    else:
        base, created = Path("runs") / name, True
        base.parent.mkdir(parents=True, exist_ok=True)
        for n in itertools.count():
            path = base if n == 0 else base.with_name(f"{base.name}-{n}")
            try:
                path.mkdir()
                break
            except FileExistsError:
                continue
    lock = hold_or_refuse(path / LOCK, f"run directory {path}")
    if not resume and (path / CONFIG).exists():
        lock.release()
        raise FileExistsError(
            f"{path} already holds a run; continue it with --resume {path} "
            "or choose another run_dir"
        )
    return ClaimedRunDirectory(path, created, lock)
