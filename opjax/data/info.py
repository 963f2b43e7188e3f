"""``opjax data info FILE``: what a dataset file holds, as readable text."""

from __future__ import annotations

import os

import numpy as np

from opjax.data.fields import FieldFile
from opjax.data.mesh_data import describe_mesh


def _size(n_bytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n_bytes < 1024 or unit == "TB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024
    raise AssertionError  # unreachable


def _short(value, limit: int = 60) -> str:
    if isinstance(value, np.ndarray):
        text = f"array{list(value.shape)}" if value.size > 4 else np.array2string(value)
    elif hasattr(value, "shape"):  # an h5py dataset
        text = f"array{list(value.shape)}"
    else:
        text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(file: FieldFile) -> str:
    """A text summary: format, size, fields (shape, time axis, channels), times, coordinates,
    the mesh, parameters, splits and constants. Reads metadata only (and the mesh)."""
    lines = [
        f"file:     {file.path}",
        f"format:   {file.format}",
        f"size:     {_size(os.path.getsize(file.path))} on disk",
        f"samples:  {file.n_samples}",
        "",
        "| field | shape (channels-last) | time axis | channels | float32 size |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, field in file.fields.items():
        channels = ", ".join(c for c in field.channel_names if c) or "1"
        n_bytes = 4 * float(np.prod(field.shape))
        lines.append(
            f"| {name} | {list(field.shape)} | {'yes' if field.time_dependent else 'no'} | "
            f"{_short(channels, 40)} | {_size(n_bytes)} |"
        )
    lines.append("")
    if file.times is not None and len(file.times):
        times = np.asarray(file.times)
        lines.append(f"times:    {len(times)} from {times[0]:g} to {times[-1]:g}")
    for axis, points in file.coordinates.items():
        points = np.asarray(points)
        if points.ndim == 1 and len(points):
            label = f"{axis}:".ljust(10)
            lines.append(f"{label}{len(points)} points in [{points.min():g}, {points.max():g}]")
    if file.mesh is not None:
        lines += describe_mesh(file.mesh)
    for title, table in (("parameters", file.params), ("constants", file.constants)):
        if table:
            lines.append(f"{title}:")
            lines += [f"  {k} = {_short(v)}" for k, v in table.items()]
    if file.splits:
        lines.append("splits:")
        for name, indices in file.splits.items():
            indices = np.asarray(indices)
            span = f" (samples {indices.min()}..{indices.max()})" if len(indices) else ""
            lines.append(f"  {name}: {len(indices)}{span}")
    if file.attrs:
        lines.append("attributes:")
        lines += [f"  {k} = {_short(v)}" for k, v in file.attrs.items() if k != "recipe"]
    return "\n".join(lines).rstrip() + "\n"
