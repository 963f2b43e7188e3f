import json

import numpy as np
import pytest

from opjax.training.finetune import Pretrained, finetune_hparams, merge_pretrained
from opjax.training.recipe import RecipeError


def _variables(in_channels: int, scale: float = 0.0) -> dict:
    return {
        "params": {
            "embeddings": {
                "kernel": np.full((4, 4, in_channels, 8), scale, np.float32),
                "bias": np.full((8,), scale, np.float32),
            },
            "encoder": {"kernel": np.full((8, 8), scale + 1, np.float32)},
            "patch_recovery": {"kernel": np.full((8, 2 * in_channels), scale, np.float32)},
        }
    }


def test_merge_reuses_the_trunk_and_replaces_embedding_and_recovery():
    fresh, pretrained = _variables(3), _variables(4, scale=5.0)
    merged = merge_pretrained(fresh, pretrained, replace=True, source="ckpt")
    np.testing.assert_array_equal(merged["params"]["encoder"]["kernel"], 6.0)
    np.testing.assert_array_equal(merged["params"]["embeddings"]["kernel"], 0.0)
    # As Poseidon's ignore_mismatched_sizes: same-shaped tensors there are still reused.
    np.testing.assert_array_equal(merged["params"]["embeddings"]["bias"], 5.0)
    assert merged["params"]["patch_recovery"]["kernel"].shape == (8, 6)


def test_merge_names_every_missing_unexpected_and_misshaped_tensor():
    fresh = _variables(4)
    pretrained = _variables(4, scale=1.0)
    pretrained["params"]["extra"] = {"bias": np.zeros(3)}
    del pretrained["params"]["encoder"]
    pretrained["params"]["embeddings"]["kernel"] = np.zeros((4, 4, 4, 9))
    with pytest.raises(RecipeError) as err:
        merge_pretrained(fresh, pretrained, replace=False, source="ckpt")
    text = str(err.value)
    assert "3 tensors" in text
    assert "missing params/encoder/kernel" in text
    assert "unexpected params/extra/bias" in text
    assert "params/embeddings/kernel has shape (4, 4, 4, 9)" in text


def test_initialising_only_the_missing_leaves_gives_the_full_init_values():
    import jax

    from opjax.models import FNO
    from opjax.training import init_variables, variable_shapes

    model = FNO(n_modes=(4,), in_channels=1, out_channels=1, hidden_channels=4, n_layers=1)
    train = {"x": np.zeros((3, 16, 1), np.float32), "y": np.zeros((3, 16, 1), np.float32)}
    key = jax.random.PRNGKey(7)
    full = init_variables(model, key, train)
    shapes = variable_shapes(model, train)
    assert jax.tree.map(lambda a: (a.shape, a.dtype), full) == jax.tree.map(
        lambda a: (a.shape, a.dtype), shapes
    )
    flat, treedef = jax.tree.flatten(shapes)
    given = [np.full(s.shape, 3.0, s.dtype) if i % 2 else s for i, s in enumerate(flat)]
    partial = jax.tree.leaves(init_variables(model, key, train, jax.tree.unflatten(treedef, given)))
    for i, (ours, reference) in enumerate(zip(partial, jax.tree.leaves(full))):
        np.testing.assert_array_equal(ours, given[i] if i % 2 else reference)


def test_finetune_hparams_take_channels_from_the_data():
    pretrained = Pretrained("scot", {"in_channels": 4, "out_channels": 4, "depth": 2}, {}, "c")
    hparams, replace = finetune_hparams(pretrained, {"depth": 3}, 2, 2, "auto")
    assert hparams == {"in_channels": 2, "out_channels": 2, "depth": 3} and replace
    assert finetune_hparams(pretrained, {}, 4, 4, "auto")[1] is False
    assert finetune_hparams(pretrained, {}, 4, 4, "always")[1] is True
    with pytest.raises(RecipeError, match="replace_embedding_recovery"):
        finetune_hparams(pretrained, {}, 2, 2, "never")


def _vorticity_file(path, seed: int, n: int = 2, n_times: int = 3, side: int = 32):
    """A small opjax dataset file (the layout of :mod:`opjax.data.formats.opjax_h5`) of
    smooth random vorticity trajectories ``[n, n_times, side, side]``, a state every 0.25:
    what the fine-tuning recipe's data looks like, without solving for it."""
    import h5py

    from opjax.data.formats.opjax_h5 import FORMAT, FORMAT_VERSION

    x = np.linspace(0.0, 2.0 * np.pi, side, endpoint=False)
    rng = np.random.default_rng(seed)
    phases = rng.uniform(0.0, 2.0 * np.pi, (n, n_times, 1, 1))
    field = np.sin(x[:, None] + phases) * np.cos(2.0 * x[None, :] - phases)
    with h5py.File(path, "w") as f:
        f.attrs.update(format=FORMAT, format_version=FORMAT_VERSION, complete=True)
        f.create_dataset("fields/vorticity", data=field.astype(np.float32))
        f["fields/vorticity"].attrs["time_dependent"] = True
        f["times"] = 0.25 * np.arange(n_times)
    return path


@pytest.mark.slow
def test_finetune_from_a_poseidon_folder_replaces_embedding_and_reuses_the_trunk(tmp_path):
    """`opjax finetune` from a Hugging Face folder as downloaded (the parity fixture: 3 in,
    2 out channels) on 1-channel all2all data, with zero learning rates so that the run's
    parameters are exactly what fine-tuning started from: the checkpoint's, but a fresh
    embedding projection for the new channel count."""
    import jax

    from opjax import load
    from opjax.cli import main
    from opjax.convert import from_poseidon
    from opjax.workflows import evaluate_run
    from tests.conftest import REPO

    folder = REPO / "tests" / "fixtures" / "poseidon" / "conditioned"
    files = {
        split: _vorticity_file(tmp_path / f"{split}.h5", seed)
        for seed, split in ((0, "train"), (1, "test"))
    }
    run_dir = tmp_path / "run"
    overrides = [
        f"finetune.checkpoint='{folder}'",
        f"run_dir='{run_dir}'",
        "data.generate=''",
        "data.format='opjax_h5'",
        f"data.train='{files['train']}'",
        f"data.test={{test='{files['test']}'}}",
        "train.epochs=1",
        "train.batch_size=4",
        "optimizer.lr=0.0",
        "optimizer.lr_embedding_recovery=0.0",
        "optimizer.lr_time_conditioning=0.0",
    ]
    args = ["finetune", str(REPO / "train" / "poseidon_ns2d_finetune.toml"), "--quiet"]
    assert main([*args, *(a for o in overrides for a in ("--set", o))]) == 0

    run = load(run_dir)
    assert run.card.model == "scot" and run.card.training.finetuned_from == str(folder)
    assert (run.model.in_channels, run.model.out_channels) == (1, 1)
    _, reference = from_poseidon(folder)
    ours, theirs = run.params["params"], reference["params"]
    embedding = ours["embeddings"]["patch_embeddings"]["projection"]["kernel"]
    assert embedding.shape[-2] == 1
    norm = jax.tree.map(
        lambda a, b: bool(np.array_equal(a, b)),
        ours["embeddings"]["norm"],
        theirs["embeddings"]["norm"],
    )
    assert all(jax.tree.leaves(norm))
    same = jax.tree.map(lambda a, b: bool(np.array_equal(a, b)), ours["encoder"], theirs["encoder"])
    assert all(jax.tree.leaves(same))
    assert run.card.sample_shapes["t"] == ()
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert np.isfinite(metrics[-1]["test/test/relative_l1"])
    # A time-conditioned run rolls out one saved interval per step (here 0.25).
    results = evaluate_run(str(run_dir), rollout=2)
    rollout = results["test"]["rollout"]
    assert rollout["steps"] == 2 and rollout["model_dt"] == pytest.approx(0.25)
    assert np.all(np.isfinite(rollout["l2_per_step"]))
