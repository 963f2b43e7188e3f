"""Write the splits of a dataset recipe to HDF5: chunked, resumable, never half-visible.

Each split is written to ``<output>/<split>.h5.partial``, ``chunk_size`` samples at a time
(drawn by ``jit(vmap(problem.sample))``), with the count of finished samples stored in the
file after every chunk. A killed generation resumes from that count; since sample ``i``
depends only on ``(seed, split, i)`` and chunks always cover the same indices, the resumed
file equals an uninterrupted one bit for bit. Only a finished file is renamed to
``<split>.h5``, with its ``complete`` flag set, so a file under its final name is always
whole. A final file made by the same recipe is reused (generation is cached); one made by
another recipe is never overwritten. Processes that generate the same split at once take
turns (a file lock): the first writes it, the others find it finished. Storage is
contiguous, so after the first chunk a write touches only sample data and one counter.
"""

from __future__ import annotations

import datetime
import logging
import os
import zlib
from pathlib import Path

import h5py
import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from opjax.data.errors import DataFormatError
from opjax.data.formats.opjax_h5 import FORMAT, FORMAT_VERSION
from opjax.data.generation.problems import PROBLEMS
from opjax.data.mesh_data import DatasetMesh
from opjax.file_locks import exclusive
from opjax.recipe_tables import dump_toml, tomllib
from opjax.version import __version__

log = logging.getLogger("opjax.generate")


def sample_keys(seed: int, split: str, start: int, count: int) -> jax.Array:
    """The keys of samples ``start .. start + count - 1`` of ``split``: ``[count]`` keys."""
    split_key = jax.random.fold_in(jax.random.PRNGKey(seed), zlib.crc32(split.encode()) >> 1)
    return jax.vmap(lambda i: jax.random.fold_in(split_key, i))(jnp.arange(start, start + count))


def split_identity(recipe: dict, split: str) -> str:
    """The part of a resolved recipe that determines a split's content, as TOML."""
    spec = recipe["splits"][split]
    return dump_toml(
        {
            "problem": recipe["problem"],
            "seed": recipe["seed"],
            "chunk_size": recipe["chunk_size"],
            "precision": recipe["precision"],
            "split": split,
            "n_samples": spec["n_samples"],
            "parameters": spec["parameters"],
        }
    )


def recorded_problem(attrs: dict, source: str = "dataset"):
    """The :class:`~opjax.data.generation.problem.Problem` an opjax dataset was generated
    from, rebuilt from its root attributes ``problem`` and ``recipe``.

    Raises:
        DataFormatError: the attributes do not name a known problem and its parameters.
    """
    try:
        problem = PROBLEMS[attrs["problem"]]
        parameters = tomllib.loads(attrs["recipe"])["parameters"]
        return problem.build({**problem.DEFAULTS, **parameters})
    except (KeyError, tomllib.TOMLDecodeError) as err:
        raise DataFormatError(
            f"{source}: its attributes do not say which problem generated it ({err})"
        ) from None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _is_complete_copy(path: Path, identity: str) -> bool:
    try:
        with h5py.File(path, "r") as f:
            return bool(f.attrs.get("complete", False)) and f.attrs.get("recipe") == identity
    except OSError:
        return False


def _create(path: Path, recipe: dict, split: str, identity: str, problem, shapes) -> h5py.File:
    n = recipe["splits"][split]["n_samples"]
    f = h5py.File(path, "w")
    f.attrs.update(
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "problem": recipe["problem"],
            "split": split,
            "seed": recipe["seed"],
            "n_samples": n,
            "n_written": 0,
            "complete": False,
            "recipe": identity,
            "opjax_version": __version__,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
    )
    for key, shape in shapes.items():
        group, name = key.split("/")
        dtype = np.float32 if group == "fields" else np.float64
        dataset = f.require_group(group).create_dataset(name, (n, *shape.shape[1:]), dtype)
        if group == "fields":
            dataset.attrs["time_dependent"] = name in problem.time_dependent
            dataset.attrs["description"] = problem.descriptions.get(name, "")
    if problem.times is not None:
        f.create_dataset("times", data=np.asarray(problem.times, np.float64))
    for axis, points in problem.coordinates.items():
        f.require_group("coordinates").create_dataset(axis, data=np.asarray(points, np.float64))
    f.require_group("solver").attrs.update(problem.solver)
    if problem.mesh is not None:
        _write_mesh(f, problem.mesh)
    f.flush()
    return f


def _write_mesh(f: h5py.File, mesh: DatasetMesh) -> None:
    """``/mesh``: the triangles and element of a finite-element problem's fields."""
    group = f.create_group("mesh")
    group.create_dataset("points", data=mesh.mesh.points)
    group.create_dataset("cells", data=mesh.mesh.cells)
    group.attrs.update({"element": mesh.element, "domain": mesh.domain})
    if mesh.coarse is not None:
        coarse = group.create_group("coarse")
        coarse.create_dataset("points", data=mesh.coarse.mesh.points)
        coarse.create_dataset("cells", data=mesh.coarse.mesh.cells)


def _open_partial(path: Path, identity: str) -> tuple[h5py.File | None, int]:
    """An unfinished file of the same recipe and its sample count, else ``(None, 0)``."""
    if not path.exists():
        return None, 0
    try:
        f = h5py.File(path, "r+")
    except OSError as err:
        log.warning("%s is unreadable (%s); starting it again", path, err)
        path.unlink()
        return None, 0
    if f.attrs.get("recipe") != identity:
        f.close()
        log.warning("%s was started by a different recipe; starting it again", path)
        path.unlink()
        return None, 0
    return f, int(f.attrs["n_written"])


def _check_finite(chunk: dict, start: int, count: int, split: str, parameters: dict) -> None:
    for key, values in chunk.items():
        finite = np.isfinite(values[:count].reshape(count, -1)).all(axis=1)
        if not finite.all():
            index = start + int(np.argmin(finite))
            raise FloatingPointError(
                f"split {split!r}, sample {index}: {key} is not finite (the solver diverged); "
                f"try a smaller parameters.dt (now {parameters.get('dt', 'n/a')})"
            )


def generate_split(recipe: dict, split: str, *, progress: bool = False) -> Path:
    """Write (or resume, or reuse) ``<output>/<split>.h5`` of a resolved dataset recipe.

    One process at a time writes a split (a lock file ``.<split>.h5.lock`` beside it);
    another that asks for the same split meanwhile waits, then reuses the finished file.
    """
    output = Path(recipe["output"])
    output.mkdir(parents=True, exist_ok=True)
    final = output / f"{split}.h5"
    with exclusive(output / f".{split}.h5.lock", final):
        return _write_split(recipe, split, final, progress)


def _chunk_drawer(problem, n: int, chunk_size: int):
    """``(keys [chunk_size], first) -> chunk``: the samples ``first ..`` of a split of ``n``,
    jitted and vmapped (a swept problem also gets each sample's place ``i / (n - 1)``)."""
    if not problem.swept:
        return jax.jit(lambda keys, first: jax.vmap(problem.sample)(keys))

    def draw(keys, first):
        fraction = (first + jnp.arange(chunk_size)) / max(n - 1, 1)
        return jax.vmap(problem.sample)(keys, fraction)

    return jax.jit(draw)


def _write_split(recipe: dict, split: str, final: Path, progress: bool) -> Path:
    output = final.parent
    partial = output / f"{split}.h5.partial"
    identity = split_identity(recipe, split)
    if final.exists():
        if _is_complete_copy(final, identity):
            log.info("%s is up to date", final)
            return final
        raise FileExistsError(
            f"{final} exists but was not generated by this recipe; delete it to regenerate, "
            "or set another output directory"
        )
    spec = recipe["splits"][split]
    n, chunk_size = spec["n_samples"], recipe["chunk_size"]
    problem = PROBLEMS[recipe["problem"]].build(spec["parameters"])
    with jax.enable_x64(recipe["precision"] == "float64"):
        draw = _chunk_drawer(problem, n, chunk_size)
        shapes = jax.eval_shape(draw, sample_keys(recipe["seed"], split, 0, chunk_size), 0)
        f, start = _open_partial(partial, identity)
        if f is None:
            f = _create(partial, recipe, split, identity, problem, shapes)
        elif start:
            log.info("%s: resuming after %d of %d samples", partial, start, n)
        bar = tqdm(
            total=n, initial=start, unit="sample", desc=split, disable=not progress, leave=False
        )
        try:
            for first in range(start, n, chunk_size):
                count = min(chunk_size, n - first)
                keys = sample_keys(recipe["seed"], split, first, chunk_size)
                chunk = jax.device_get(draw(keys, first))
                _check_finite(chunk, first, count, split, spec["parameters"])
                for key, values in chunk.items():
                    f[key][first : first + count] = values[:count]
                f.attrs["n_written"] = first + count
                f.flush()
                log.debug("%s: wrote samples %d-%d", partial, first, first + count - 1)
                bar.update(count)
            f.attrs["complete"] = True
        finally:
            f.close()
            bar.close()
    _fsync(partial)
    os.replace(partial, final)
    _fsync(output)
    return final


def generate(recipe: dict, *, progress: bool = False) -> dict[str, Path]:
    """Every split of a resolved dataset recipe: ``{split: path}``."""
    return {split: generate_split(recipe, split, progress=progress) for split in recipe["splits"]}
