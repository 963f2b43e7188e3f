"""Poseidon-T (scOT) in opjax and in Poseidon's PyTorch code: forward and backward, 128x128.

    pip install -e ".[bench]"      # torch and transformers 4.29.2 (Poseidon's pin)
    python evaluation/speed/scot_vs_reference.py --poseidon PATH [--batch 4] [--repeats 10]

``PATH`` is a checkout of camlab-ethz/poseidon (a folder with ``scOT/model.py``) or a git
directory of one (its ``HEAD:scOT/model.py`` is read). The reference model is Poseidon-T's
configuration (embed_dim 48, depths 4 x 4, windows 16, 4 channels, 128 x 128) with random
weights; opjax runs the same weights, converted by
:func:`opjax.convert.poseidon.scot_params_from_state` (the script first checks that the
outputs agree). Timed, with the two libraries interleaved after warm-up:

* forward: one prediction at lead times ``t`` (``torch.no_grad`` and ``eval()``;
  ``jax.jit(model.apply)``);
* forward and backward: Poseidon's relative L1 loss and its gradient with respect to every
  parameter (``loss.backward()``; ``jax.jit(jax.grad(...))``), no optimizer step.

The table gives medians and the ratio reference / opjax (above 1: opjax is faster).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import statistics
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--poseidon", required=True, help="camlab-ethz/poseidon checkout")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument(
        "--out", default=os.path.join(os.path.dirname(__file__), "scot_vs_reference.md")
    )
    args = parser.parse_args()

    import jax
    import jax.numpy as jnp
    import torch
    import transformers

    from opjax.convert.poseidon import scot_hparams_from_config, scot_params_from_state
    from opjax.evaluation.machine import cpu_name
    from opjax.host_memory import retain_freed_memory
    from opjax.models.scot import ScOT

    retain_freed_memory()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        reference_module = import_reference(args.poseidon, Path(tmp))
        reference = reference_module.ScOT(reference_module.ScOTConfig(**POSEIDON_T))
    state = {k: v.detach().numpy() for k, v in reference.state_dict().items()}
    model = ScOT(**scot_hparams_from_config(POSEIDON_T))
    params = jax.tree.map(jnp.asarray, scot_params_from_state(state, model))

    rng = np.random.default_rng(0)
    n, c = POSEIDON_T["image_size"], POSEIDON_T["num_channels"]
    x = rng.normal(size=(args.batch, n, n, c)).astype(np.float32)
    y = rng.normal(size=(args.batch, n, n, c)).astype(np.float32)
    t = rng.uniform(0.0, 1.0, size=args.batch).astype(np.float32)
    xt, yt, tt = (torch.from_numpy(a) for a in (x, y, t))
    xt, yt = (a.permute(0, 3, 1, 2).contiguous() for a in (xt, yt))
    xj, yj, tj = (jnp.asarray(a) for a in (x, y, t))

    def torch_forward():
        reference.eval()
        with torch.no_grad():
            return reference(pixel_values=xt, time=tt).output

    def torch_backward():
        reference.train()
        reference.zero_grad()
        loss = relative_l1(reference(pixel_values=xt, time=tt).output, yt, torch)
        loss.backward()
        return loss

    apply = jax.jit(model.apply)
    grad = jax.jit(jax.value_and_grad(lambda p: relative_l1(model.apply(p, xj, t=tj), yj, jnp)))

    def jax_forward():
        return apply(params, xj, t=tj).block_until_ready()

    def jax_backward():
        return jax.block_until_ready(grad(params))

    ours, theirs = np.asarray(jax_forward()), torch_forward().permute(0, 2, 3, 1).numpy()
    agreement = float(np.abs(ours - theirs).max() / np.abs(theirs).max())

    rows = []
    for label, fns in (
        ("forward", (torch_forward, jax_forward)),
        ("forward + backward", (torch_backward, jax_backward)),
    ):
        for fn in fns:  # warm-up and compilation
            fn()
            fn()
        times = {"reference": [], "opjax": []}
        for _ in range(args.repeats):
            times["reference"].append(timed(fns[0]))
            times["opjax"].append(timed(fns[1]))
        rows.append((label, *(statistics.median(times[k]) for k in ("opjax", "reference"))))

    n_params = sum(int(np.prod(v.shape)) for v in jax.tree.leaves(params))
    lines = [
        "# Poseidon-T (scOT) in opjax and in Poseidon's PyTorch code",
        "",
        f"Machine: {cpu_name()}, {os.cpu_count()} cores, {jax.devices()[0].platform}; "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), transformers "
        f"{transformers.__version__}, jax {jax.__version__}. "
        f"Date: {datetime.date.today().isoformat()}.",
        "",
        f"Command: `python evaluation/speed/scot_vs_reference.py --poseidon PATH --batch "
        f"{args.batch} --repeats {args.repeats}`. Poseidon-T's configuration "
        f"({n_params:,} parameters), random weights, batch {args.batch} at 128x128 with "
        f"4 channels, float32, same weights (outputs agree to {agreement:.1e} relative); "
        f"medians of {args.repeats} interleaved repeats after warm-up.",
        "",
        "| | opjax (ms) | reference (ms) | ratio reference / opjax |",
        "| --- | --- | --- | --- |",
    ]
    for label, ours_s, theirs_s in rows:
        ratio = theirs_s / ours_s
        lines.append(f"| {label} | {1e3 * ours_s:.0f} | {1e3 * theirs_s:.0f} | **{ratio:.2f}x** |")
    table = "\n".join(lines) + "\n"
    print(table)
    with open(args.out, "w") as f:
        f.write(table)


if __name__ == "__main__":
    main()
