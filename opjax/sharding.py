"""Data parallelism over a one-axis ``jax.sharding.Mesh``.

Every array of a batch is split along its first axis over the mesh's ``data`` axis;
parameters and optimizer state are replicated. A single device is a mesh of one, so the
same code runs on a laptop, one GPU, or every device of a multi-host run (after
``jax.distributed.initialize()``).
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

DATA_AXIS = "data"


def data_mesh(devices=None) -> Mesh:
    """A mesh with one ``data`` axis over ``devices`` (default: all devices)."""
    devices = jax.devices() if devices is None else devices
    return Mesh(np.asarray(devices), (DATA_AXIS,))


def batch_sharding(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def check_batch_size(batch_size: int, mesh: Mesh, what: str = "train.batch_size") -> None:
    n = mesh.devices.size
    if batch_size % n:
        raise ValueError(
            f"{what} = {batch_size} is not divisible by the {n} devices of the data mesh"
        )
