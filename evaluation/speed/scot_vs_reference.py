"""Poseidon-T (scOT) in opjax and in Poseidon's PyTorch code: forward and backward, 128x128.

    pip install -e ".[bench]"      # torch and transformers 4.29.2 (Poseidon's pin)
    python evaluation/speed/scot_vs_reference.py --poseidon PATH [--batch 2] [--repeats 10]

``PATH`` is a checkout of camlab-ethz/poseidon (a folder with ``scOT/model.py``) or a git
directory of one (its ``HEAD:scOT/model.py`` is read). The reference model is Poseidon-T's
configuration (embed_dim 48, depths 4 x 4, windows 16, 4 channels, 128 x 128) with random
weights; opjax runs the same weights, converted by
:func:`opjax.convert.poseidon.scot_params_from_state` (the script first checks that the
outputs agree).

Poseidon's from-scratch initialisation gives every conditioned norm a scale ``gamma(t)``
near zero, so activations become tiny; the script sets the scales' biases to one, as in a
trained model, and PyTorch flushes subnormals to zero (``torch.set_flush_denormal``), as
XLA's CPU backend does by default.

Each library is timed in a process of its own, both with
:func:`opjax.host_memory.retain_freed_memory`. On the virtual machines this project runs
on, page faults are expensive, and PyTorch allocates its activations afresh on every call:
with glibc's default malloc settings the reference's forward pass took 10.4 s per call
here, against 0.9 s of operator time under ``torch.profiler``. With freed memory retained
it is faster but erratic, so the table gives the range and the ratio of the fastest
repeats beside that of the medians. Timed after warm-up:

* forward: one prediction at lead times ``t`` (``torch.no_grad`` and ``eval()``;
  ``jax.jit(model.apply)``);
* forward and backward: Poseidon's relative L1 loss and its gradient with respect to every
  parameter (``loss.backward()``; ``jax.jit(jax.grad(...))``), no optimizer step.

Ratios are reference / opjax (above 1: opjax is faster).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

POSEIDON_T = {
    "image_size": 128,
    "patch_size": 4,
    "num_channels": 4,
    "num_out_channels": 4,
    "embed_dim": 48,
    "depths": [4, 4, 4, 4],
    "num_heads": [3, 6, 12, 24],
    "skip_connections": [2, 2, 2, 0],
    "window_size": 16,
    "mlp_ratio": 4.0,
    "qkv_bias": True,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
    "drop_path_rate": 0.0,
    "use_conditioning": True,
    "residual_model": "convnext",
    "layer_norm_eps": 1e-5,
}


def import_reference(poseidon: str, tmp: Path):
    """Poseidon's ``scOT/model.py`` as a module, from a checkout or a git directory."""
    source_file = Path(poseidon) / "scOT" / "model.py"
    if source_file.exists():
        source = source_file.read_text()
    else:
        source = subprocess.run(
            ["git", "-C", poseidon, "show", "HEAD:scOT/model.py"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    path = tmp / "poseidon_reference_model.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("poseidon_reference_model", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def relative_l1(pred, target, xp):
    """Poseidon's loss with one channel group: mean |pred - target| / mean |target|."""
    return xp.mean(xp.abs(pred - target)) / (xp.mean(xp.abs(target)) + 1e-10)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def reference_model(poseidon: str):
    """Poseidon's ``ScOT`` in Poseidon-T's configuration, seeded random weights, with the
    conditioned norms' scales at one (see the module docstring)."""
    import torch

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        module = import_reference(poseidon, Path(tmp))
        model = module.ScOT(module.ScOTConfig(**POSEIDON_T))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith(".weight.bias"):  # gamma(t) = 1 + w t
                p.fill_(1.0)
    return model


def inputs(batch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Channels-last ``x``, target ``y`` and lead times ``t``, seeded."""
    rng = np.random.default_rng(0)
    n, c = POSEIDON_T["image_size"], POSEIDON_T["num_channels"]
    x = rng.normal(size=(batch, n, n, c)).astype(np.float32)
    y = rng.normal(size=(batch, n, n, c)).astype(np.float32)
    return x, y, rng.uniform(0.0, 1.0, size=batch).astype(np.float32)


def torch_functions(reference, x, y, t):
    import torch

    xt, yt = (torch.from_numpy(a).permute(0, 3, 1, 2).contiguous() for a in (x, y))
    tt = torch.from_numpy(t)

    def forward():
        reference.eval()
        with torch.no_grad():
            return reference(pixel_values=xt, time=tt).output.permute(0, 2, 3, 1).numpy()

    def backward():
        reference.train()
        reference.zero_grad()
        loss = relative_l1(reference(pixel_values=xt, time=tt).output, yt, torch)
        loss.backward()
        return loss

    return forward, backward


def jax_functions(reference, x, y, t):
    import jax
    import jax.numpy as jnp

    from opjax.convert.poseidon import scot_hparams_from_config, scot_params_from_state
    from opjax.models.scot import ScOT

    state = {k: v.detach().numpy() for k, v in reference.state_dict().items()}
    model = ScOT(**scot_hparams_from_config(POSEIDON_T))
    params = jax.tree.map(jnp.asarray, scot_params_from_state(state, model))
    xj, yj, tj = (jnp.asarray(a) for a in (x, y, t))
    apply = jax.jit(model.apply)
    grad = jax.jit(jax.value_and_grad(lambda p: relative_l1(model.apply(p, xj, t=tj), yj, jnp)))

    def forward():
        return np.asarray(apply(params, xj, t=tj))

    def backward():
        return jax.block_until_ready(grad(params))

    return forward, backward


def worker(library: str, poseidon: str, batch: int, repeats: int, out: str) -> None:
    """Time one library in this process; save its output and timings to ``out``."""
    import torch

    from opjax.host_memory import retain_freed_memory

    retain_freed_memory()
    torch.set_flush_denormal(True)
    reference = reference_model(poseidon)
    x, y, t = inputs(batch)
    make = torch_functions if library == "reference" else jax_functions
    forward, backward = make(reference, x, y, t)
    timings = {}
    for label, fn in (("forward", forward), ("backward", backward)):
        fn(), fn()  # warm-up and compilation
        timings[label] = np.array([timed(fn) for _ in range(repeats)])
    np.savez(out, output=forward(), **timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--poseidon", required=True, help="camlab-ethz/poseidon checkout")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument(
        "--out", default=os.path.join(os.path.dirname(__file__), "scot_vs_reference.md")
    )
    parser.add_argument("--worker", choices=("opjax", "reference"), help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.poseidon, args.batch, args.repeats, args.result)
        return

    import jax
    import torch
    import transformers

    from opjax.evaluation.machine import cpu_name

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for library in ("opjax", "reference"):
            result = os.path.join(tmp, f"{library}.npz")
            command = [sys.executable, __file__, "--worker", library, "--result", result]
            command += ["--poseidon", args.poseidon, "--batch", str(args.batch)]
            subprocess.run([*command, "--repeats", str(args.repeats)], check=True)
            with np.load(result) as data:
                results[library] = dict(data)
    ours, theirs = results["opjax"]["output"], results["reference"]["output"]
    agreement = float(np.abs(ours - theirs).max() / np.abs(theirs).max())

    lines = [
        "# Poseidon-T (scOT) in opjax and in Poseidon's PyTorch code",
        "",
        f"Machine: {cpu_name()}, {os.cpu_count()} cores, {jax.devices()[0].platform}; "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), transformers "
        f"{transformers.__version__}, jax {jax.__version__}. "
        f"Date: {datetime.date.today().isoformat()}.",
        "",
        f"Command: `python evaluation/speed/scot_vs_reference.py --poseidon PATH --batch "
        f"{args.batch} --repeats {args.repeats}`. Poseidon-T's configuration (20,774,444 "
        f"parameters), random weights, batch {args.batch} at 128x128 with 4 channels, "
        f"float32, the same weights (outputs agree to {agreement:.1e} relative). Each "
        "library runs in its own process (same malloc settings, subnormals flushed); "
        f"median (and range) of {args.repeats} repeats after warm-up.",
        "",
        "| | opjax (ms) | reference (ms) | ratio of medians | ratio of fastest |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, key in (("forward", "forward"), ("forward + backward", "backward")):
        a, b = results["opjax"][key], results["reference"][key]
        cells = [
            f"{1e3 * np.median(v):.0f} ({1e3 * v.min():.0f}-{1e3 * v.max():.0f})" for v in (a, b)
        ]
        ratio, best = np.median(b) / np.median(a), b.min() / a.min()
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | **{ratio:.2f}x** | {best:.2f}x |")
    table = "\n".join(lines) + "\n"
    print(table)
    with open(args.out, "w") as f:
        f.write(table)


if __name__ == "__main__":
    main()
