"""neuraloperator's Darcy recipe, trained by opjax and by neuraloperator on this machine.

    pip install -e ".[bench]"      # torch and neuraloperator 2.0.0, benchmark-only
    python evaluation/speed/fno_darcy_vs_neuralop.py [--seeds 0 1 2]

For each seed, interleaved so that both see the same machine state, it runs as separate
processes (wall time from launch to exit: imports, data loading, compilation, 20 epochs with
evaluation at 16x16 and 32x32 after every epoch, checkpoints):

* ``opjax train train/fno_darcy16.toml --set seed=S`` (the command a user runs);
* neuraloperator 2.0.0's FNO, AdamW, CosineAnnealingLR and Trainer with the same recipe,
  as its ``examples/models/plot_FNO_darcy.py`` sets it up (the example's loaders: no
  shuffling; its data processor: unit-Gaussian output normalisation);
* the same neuraloperator run with glibc's malloc tuned as opjax tunes it
  (``opjax.host_memory``), so that the comparison separates that effect from the rest.

It prints and writes a Markdown table (``--out``) with the relative L2 and H1 test errors
(mean over the test set, neuraloperator's definitions) and the wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "neuralop"
MALLOC_TUNED = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=2147483647"


def neuralop_worker(seed: int, data_dir: str) -> dict:
    """Train neuraloperator's Darcy recipe in this process; return its final test errors."""
    import torch
    from neuralop import H1Loss, LpLoss, Trainer
    from neuralop.data.datasets.darcy import DarcyDataset
    from neuralop.models import FNO
    from neuralop.training import AdamW
    from torch.utils.data import DataLoader

    torch.manual_seed(seed)
    dataset = DarcyDataset(
        root_dir=Path(data_dir),
        n_train=1000,
        n_tests=[50, 50],
        batch_size=32,
        test_batch_sizes=[32, 32],
        train_resolution=16,
        test_resolutions=[16, 32],
        encode_input=False,
        encode_output=True,
        channel_dim=1,
        encoding="channel-wise",
        download=False,
    )
    train_loader = DataLoader(dataset.train_db, batch_size=32, num_workers=1, pin_memory=True)
    test_loaders = {
        res: DataLoader(dataset.test_dbs[res], batch_size=32, shuffle=False, num_workers=1)
        for res in (16, 32)
    }
    model = FNO(
        n_modes=(8, 8),
        in_channels=1,
        out_channels=1,
        hidden_channels=32,
        projection_channel_ratio=2,
    )
    optimizer = AdamW(model.parameters(), lr=8e-3, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=30)
    h1, l2 = H1Loss(d=2), LpLoss(d=2, p=2)
    trainer = Trainer(
        model=model,
        n_epochs=20,
        device="cpu",
        data_processor=dataset.data_processor,
        wandb_log=False,
        eval_interval=1,
        use_distributed=False,
        verbose=False,
    )
    out = trainer.train(
        train_loader=train_loader,
        test_loaders=test_loaders,
        optimizer=optimizer,
        scheduler=scheduler,
        regularizer=False,
        training_loss=h1,
        eval_losses={"h1": h1, "l2": l2},
    )
    return {f"{res}/{m}": float(out[f"{res}_{m}"]) for res in (16, 32) for m in ("l2", "h1")}


def run_opjax(seed: int, data_dir: Path, workdir: Path) -> dict:
    run_dir = workdir / f"opjax_seed{seed}"
    test = (
        f'{{ "16" = "{data_dir / "darcy_test_16.pt"}", "32" = "{data_dir / "darcy_test_32.pt"}" }}'
    )
    command = [
        sys.executable,
        "-m",
        "opjax.cli",
        "train",
        str(REPO / "train" / "fno_darcy16.toml"),
        "--quiet",
        "--set",
        f"seed={seed}",
        "--set",
        f"run_dir={run_dir}",
        "--set",
        f"data.train={data_dir / 'darcy_train_16.pt'}",
        "--set",
        f"data.test={test}",
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    report = json.loads((run_dir / "report" / "metrics.json").read_text())
    errors = {f"{res}/{m}": report[res][m] for res in ("16", "32") for m in ("l2", "h1")}
    return {"wall_s": wall, **errors}


def run_neuralop(seed: int, data_dir: Path, tuned: bool) -> dict:
    env = dict(os.environ)
    if tuned:
        env["GLIBC_TUNABLES"] = MALLOC_TUNED
    command = [
        sys.executable,
        __file__,
        "--neuralop-worker",
        str(seed),
        "--data-dir",
        str(data_dir),
    ]
    start = time.perf_counter()
    result = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    return {"wall_s": wall, **json.loads(result.stdout.strip().splitlines()[-1])}


def machine() -> str:
    from opjax.evaluation.machine import cpu_name

    cpu = cpu_name()
    import jax
    import neuralop
    import torch

    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"jax {jax.__version__}, torch {torch.__version__}, neuraloperator {neuralop.__version__}"
    )


def table(rows: list[tuple[str, int, dict]]) -> str:
    keys = ("16/l2", "16/h1", "32/l2", "32/h1", "wall_s")
    head = "| run | seed | L2 @16 | H1 @16 | L2 @32 (zero-shot) | H1 @32 | wall time (s) |"
    lines = [head, "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, seed, r in rows:
        lines.append(
            f"| {name} | {seed} | "
            + " | ".join(f"{r[k]:.1f}" if k == "wall_s" else f"{r[k]:.4f}" for k in keys)
            + " |"
        )
    for name in dict.fromkeys(n for n, _, _ in rows):
        mine = [r for n, _, r in rows if n == name]
        mean = {k: sum(r[k] for r in mine) / len(mine) for k in keys}
        lines.append(
            f"| **{name}** | mean | "
            + " | ".join(f"{mean[k]:.1f}" if k == "wall_s" else f"{mean[k]:.4f}" for k in keys)
            + " |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA))
    parser.add_argument("--out", default=str(Path(__file__).with_suffix(".md")))
    parser.add_argument("--neuralop-worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.neuralop_worker is not None:
        print(json.dumps(neuralop_worker(args.neuralop_worker, args.data_dir)))
        return
    data_dir = Path(args.data_dir)
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for seed in args.seeds:
            rows.append(("opjax", seed, run_opjax(seed, data_dir, Path(workdir))))
            rows.append(("neuraloperator", seed, run_neuralop(seed, data_dir, tuned=False)))
            rows.append(("neuraloperator, malloc tuned", seed, run_neuralop(seed, data_dir, True)))
            print(rows[-3:], flush=True)
    means = {
        n: sum(r["wall_s"] for m, _, r in rows if m == n) / len(args.seeds)
        for n in dict.fromkeys(n for n, _, _ in rows)
    }
    text = (
        "# FNO on Darcy flow (neuraloperator's recipe): opjax vs neuraloperator\n\n"
        f"Machine: {machine()}.\n\n"
        "Command: `python evaluation/speed/fno_darcy_vs_neuralop.py` "
        f"(seeds {' '.join(map(str, args.seeds))}). Wall time: process launch to exit, "
        "20 epochs, evaluation on both test sets after every epoch.\n\n"
        + table(rows)
        + "\nWall-time ratio neuraloperator / opjax: "
        f"{means['neuraloperator'] / means['opjax']:.2f}x (with neuraloperator's malloc "
        f"tuned too: {means['neuraloperator, malloc tuned'] / means['opjax']:.2f}x).\n"
    )
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
