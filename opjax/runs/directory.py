"""The run directory: everything ``evaluate``, ``finetune`` and ``opjax.load`` need.

    RUN_DIR/
      config.toml      the resolved recipe
      model.json       the model card (:mod:`opjax.runs.model_card`)
      checkpoints/     Orbax; latest/ and best/
      metrics.jsonl    one JSON record per epoch
      report/          evaluation tables (JSON, Markdown) and PNG plots

Files are replaced atomically (write a temporary file, fsync, rename), so a crash never
leaves a half-written ``config.toml`` or ``model.json`` where a good one was.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

CONFIG = "config.toml"
MODEL_CARD = "model.json"
METRICS = "metrics.jsonl"
CHECKPOINTS = "checkpoints"
REPORT = "report"


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
    """The epoch records of ``metrics.jsonl``; a torn last line (a crash mid-write) is dropped."""
    path = Path(run_dir) / METRICS
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return records


def append_metrics(run_dir: str | os.PathLike, record: dict) -> None:
    with open(Path(run_dir) / METRICS, "a") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def truncate_metrics(run_dir: str | os.PathLike, last_epoch: int) -> None:
    """Keep the records of epochs ``<= last_epoch`` (used when resuming from a checkpoint)."""
    kept = [r for r in read_metrics(run_dir) if r["epoch"] <= last_epoch]
    atomic_write(Path(run_dir) / METRICS, "".join(json.dumps(r) + "\n" for r in kept))
