"""SPON and SPON-MG against FNO on Poisson's equation on two non-rectangular domains
(issue 21).

For each domain (the L-shape, ``datasets/poisson_lshape.toml``, and the holed square,
``datasets/poisson_holed.toml``; P2 DOFs of ``u`` from the source ``f`` and the Dirichlet
data ``g``) this script

* generates the dataset and a test set on the mesh refined once more
  (``datasets/poisson_*_refined.toml``: fresh samples, 4x the DOFs);
* trains SPON and SPON-MG (``train/spon_poisson_*.toml``, ``train/spon_mg_poisson_*.toml``)
  on the dataset's mesh, and evaluates them there and, rebound to the refined mesh
  (:meth:`opjax.runs.LoadedRun.on`), on the refined test set (mesh transfer);
* rasterises the same data for an FNO (``train/fno_poisson_lattice_*.toml``). Both meshes
  are uniform refinements of structured triangulations, so the P2 DOF points are exactly
  the points of a uniform lattice that lie in the domain (spacing ``h / 2``; 65 x 65 points
  on the L-shape, 49 x 49 on the holed square; :class:`opjax.fem.DofLattice`). The FNO's
  grid is that lattice: ``f`` and ``g`` at the DOF points, 0 outside the domain, and the
  domain mask as a third channel; its target is ``u`` there and 0 outside. Its prediction
  at the lattice points in the domain *is* a DOF vector of the same P2 space, so the FNO
  is scored in the same finite-element norms as SPON, its boundary error included; on the
  refined lattice it is evaluated zero-shot, the grid analogue of mesh transfer;
* writes to ``--out``: ``results.json``, ``results.md`` (relative L2 and H1 errors, mean
  over the test set, and the largest boundary error, per model and test mesh) and, per
  domain, model and test mesh, a plot of the first test sample
  (:func:`opjax.evaluation.mesh_plots.plot_mesh_prediction`).

Usage (the recipes are CPU-sized; ``--epochs`` overrides every recipe's epoch count)::

    python evaluation/spon_poisson.py --out evaluation/results/spon

Runs are written to ``--runs`` (default ``runs/spon_poisson``) and reused when finished, so
a rerun only re-evaluates.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

import h5py
import jax
import jax.numpy as jnp
import numpy as np

from opjax.data.fields import read_sample
from opjax.data.formats import open_dataset
from opjax.data.formats.opjax_h5 import FORMAT, FORMAT_VERSION, read_opjax_h5
from opjax.data.generation import generate
from opjax.data.generation.recipe import load_dataset_recipe
from opjax.data.mesh_data import DatasetMesh
from opjax.evaluation.mesh_evaluation import mesh_errors
from opjax.evaluation.mesh_plots import plot_mesh_prediction
from opjax.fem import DofLattice, LagrangeSpace
from opjax.metrics.finite_element import FiniteElementNorms
from opjax.runs import load
from opjax.runs.directory import CONFIG, MODEL_CARD
from opjax.training.recipe import load_recipe
from opjax.workflows.mesh_runs import model_spaces
from opjax.workflows.train import train

MODELS = ("spon", "spon_mg", "fno")
LABELS = {"spon": "SPON", "spon_mg": "SPON-MG", "fno": "FNO (lattice)"}
TESTS = ("mesh", "refined")
TEST_LABELS = {"mesh": "training mesh", "refined": "refined mesh"}
TRAIN_SECONDS = "train_seconds.txt"  # written into a run directory once it is finished
PAPER_FNO_L2 = 0.0171  # Bouziani & Boulle 2024, FNO on their 2D Poisson problem


@dataclasses.dataclass(frozen=True)
class Case:
    """One domain: its dataset recipes and its training recipes."""

    key: str
    title: str

    @property
    def dataset(self) -> str:
        return f"datasets/poisson_{self.key}.toml"

    @property
    def refined_dataset(self) -> str:
        return f"datasets/poisson_{self.key}_refined.toml"

    def training_recipe(self, model: str) -> str:
        if model == "fno":
            return f"train/fno_poisson_lattice_{self.key}.toml"
        return f"train/{model}_poisson_{self.key}.toml"


CASES = (Case("lshape", "L-shape"), Case("holed", "holed square"))


def dataset_files(path: str) -> dict[str, Path]:
    """Generate (or reuse) a dataset recipe's files: ``{split: path}``."""
    return generate(load_dataset_recipe(path))


def read_fields(path: str, names: tuple[str, ...]) -> tuple[DatasetMesh, dict[str, np.ndarray]]:
    """A finite-element dataset's mesh and fields ``{name: [n, n_dofs]}``."""
    with open_dataset(path, "opjax_h5") as file:
        fields = {name: np.asarray(file.field(name).source[()]) for name in names}
        return file.mesh, fields


def read_test_set(path: str) -> tuple[DatasetMesh, np.ndarray, np.ndarray]:
    """A finite-element Poisson file's mesh, inputs ``x [n, n_dofs, 2]`` (``f``, ``g``) and
    targets ``y [n, n_dofs, 1]`` (``u``)."""
    with open_dataset(path, "opjax_h5") as file:
        sample = read_sample(file, "f,g", "u")
        return file.mesh, np.asarray(sample["x"]), np.asarray(sample["y"])


def write_lattice_file(source: str, target: Path) -> None:
    """Rasterise the finite-element Poisson file ``source`` (fields ``f, g, u``) onto its
    DOF lattice and write it to ``target`` in opjax's HDF5 (fields ``f, g, mask, u``
    ``[n, nx, ny]``, coordinates ``x, y``), atomically."""
    mesh, fields = read_fields(source, ("f", "g", "u"))
    lattice = DofLattice.of(mesh.space)
    n = fields["u"].shape[0]
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with h5py.File(partial, "w") as f:
        f.attrs.update(
            format=FORMAT,
            format_version=FORMAT_VERSION,
            problem="poisson_mesh (rasterised to its DOF lattice)",
            split=target.stem,
            n_samples=n,
            n_written=n,
            complete=True,
            source=os.path.abspath(source),
        )
        for name, dofs in fields.items():
            f.create_dataset(f"fields/{name}", data=lattice.raster(dofs).astype(np.float32))
        mask = np.broadcast_to(lattice.mask, (n, *lattice.mask.shape)).astype(np.float32)
        f.create_dataset("fields/mask", data=mask)
        f.create_dataset("coordinates/x", data=lattice.x)
        f.create_dataset("coordinates/y", data=lattice.y)
    os.replace(partial, target)


def trained_run(recipe_path: str, run_dir: Path, data: dict, epochs: int) -> Path:
    """Train ``recipe_path`` into ``run_dir`` with the data keys ``data`` replaced, unless
    a finished run is already there (one with its :data:`TRAIN_SECONDS`); return the run.
    An interrupted run is resumed."""
    if (run_dir / TRAIN_SECONDS).exists():
        return run_dir
    recipe = load_recipe(recipe_path)
    recipe["data"].update(data)
    recipe["run_dir"] = str(run_dir)
    if epochs:
        recipe["train"]["epochs"] = epochs
    resume = (run_dir / MODEL_CARD).exists()
    start = time.perf_counter()
    train(recipe, resume=resume, progress=False)
    (run_dir / TRAIN_SECONDS).write_text(f"{time.perf_counter() - start:.1f}\n")
    return run_dir


def batched_predict(run, x: np.ndarray, batch: int = 20) -> np.ndarray:
    """The run's predictions for ``x``, ``batch`` samples at a time."""
    return np.concatenate(
        [np.asarray(run.predict(jnp.asarray(x[i : i + batch]))) for i in range(0, len(x), batch)]
    )


def scored(space: LagrangeSpace, pred: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """Mean relative L2 and H1 errors and the largest boundary error over a test set."""
    with jax.enable_x64():
        norms = FiniteElementNorms.of(space, np.float64)
        errors = mesh_errors(norms, jnp.asarray(pred, jnp.float64), jnp.asarray(ref, jnp.float64))
        errors = {name: np.asarray(value) for name, value in errors.items()}
    return {
        "l2": float(errors["l2"].mean()),
        "h1": float(errors["h1"].mean()),
        "boundary": float(errors["boundary"].max()),
    }


def evaluate_case(case: Case, runs: Path, out: Path, epochs: int) -> dict:
    """Train (or reuse) the three models of ``case``; their errors on both test meshes."""
    files = dataset_files(case.dataset)
    refined = dataset_files(case.refined_dataset)["test"]
    tests = {"mesh": str(files["test"]), "refined": str(refined)}
    lattice_dir = Path("data") / f"poisson_{case.key}_lattice"
    lattice_files = {"train": lattice_dir / "train.h5"}
    lattice_files |= {name: lattice_dir / f"{name}.h5" for name in TESTS}
    for name, source in {"train": str(files["train"]), **tests}.items():
        if not lattice_files[name].exists():
            write_lattice_file(source, lattice_files[name])

    test_sets = {test: read_test_set(path) for test, path in tests.items()}
    results = {}
    for model in MODELS:
        run_dir = runs / f"{model}_{case.key}"
        if model == "fno":
            data = {
                "train": str(lattice_files["train"].resolve()),
                "test": {name: str(lattice_files[name].resolve()) for name in TESTS},
            }
        else:
            data = {"test": tests}
        trained_run(case.training_recipe(model), run_dir, data, epochs)
        run = load(run_dir)
        n_params = sum(leaf.size for leaf in jax.tree.leaves(run.params))
        seconds = float((run_dir / TRAIN_SECONDS).read_text())
        epochs_run = load_recipe(str(run_dir / CONFIG))["train"]["epochs"]
        results[model] = {"parameters": n_params, "epochs": epochs_run, "train_seconds": seconds}
        for test, (mesh, x, y) in test_sets.items():
            if model == "fno":
                grid = read_opjax_h5(lattice_files[test], x_key="f,g,mask", y_key="u")["x"]
                pred = DofLattice.of(mesh.space).dofs(batched_predict(run, grid)[..., 0])[..., None]
            else:
                spaces = model_spaces(run.model.network, mesh, tests[test])
                bound = run if test == "mesh" else run.on(*spaces)
                pred = batched_predict(bound, x)
            results[model][test] = scored(mesh.space, pred, y) | {"n_dofs": mesh.space.n_dofs}
            plot_mesh_prediction(
                str(out / f"{case.key}_{model}_{test}.png"),
                mesh.space,
                pred[0, :, 0],
                y[0, :, 0],
                title=f"{LABELS[model]}, {case.title}, {TEST_LABELS[test]} "
                f"({mesh.space.n_dofs} DOFs)",
            )
    return results


def markdown(results: dict) -> str:
    """The results as Markdown tables, one per domain."""
    lines = [
        "# SPON and SPON-MG against FNO, Poisson on two domains",
        "",
        "Errors: mean relative L2 and H1 over the test set in the P2 space's norms;",
        "boundary: the largest |u_i - g_i| over the boundary DOFs of every test sample;",
        "train s: training with its evaluations. The refined mesh has 4x the DOFs and was",
        "never seen in training. Paper anchor: FNO at "
        f"{PAPER_FNO_L2:.2%} on its 2D Poisson problem.",
        "",
    ]
    for case in CASES:
        rows = results[case.key]
        lines += [
            f"## {case.title}",
            "",
            "| model | parameters | epochs | train s | test mesh | rel. L2 | rel. H1 "
            "| max boundary error |",
            "|---|---:|---:|---:|---|---:|---:|---:|",
        ]
        for model in MODELS:
            row = rows[model]
            for test in TESTS:
                r = row[test]
                lines.append(
                    f"| {LABELS[model]} | {row['parameters']:,} | {row['epochs']} | "
                    f"{row['train_seconds']:.0f} | "
                    f"{TEST_LABELS[test]} ({r['n_dofs']:,} DOFs) | {r['l2']:.2%} | {r['h1']:.2%} | "
                    f"{r['boundary']:.2e} |"
                )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="evaluation/results/spon")
    parser.add_argument("--runs", default="runs/spon_poisson")
    parser.add_argument("--epochs", type=int, default=0, help="override every recipe's")
    parser.add_argument("--cases", nargs="+", default=[case.key for case in CASES])
    args = parser.parse_args()
    out, runs = Path(args.out), Path(args.runs)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    for case in CASES:
        if case.key in args.cases:
            results[case.key] = evaluate_case(case, runs, out, args.epochs)
            results_path.write_text(json.dumps(results, indent=2) + "\n")
    if all(case.key in results for case in CASES):
        (out / "results.md").write_text(markdown(results))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
