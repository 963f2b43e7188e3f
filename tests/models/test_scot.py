"""scOT (Poseidon): the pretrained models' parameter counts, the parameter-tree naming
other code relies on, and its building blocks. Parity with the reference is in
tests/convert/test_poseidon.py."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from opjax.models.layers.fourier_resample import fourier_downsample, fourier_upsample
from opjax.models.layers.swin_attention import (
    CosineWindowSelfAttention,
    relative_coords_table,
    relative_position_index,
    shift_window_mask,
    window_partition,
    window_reverse,
)
from opjax.models.scot import POSEIDON_CONFIGS, ScOT


@functools.cache
def shapes(size):
    model = ScOT(**POSEIDON_CONFIGS[size])
    x, t = jnp.zeros((1, 128, 128, 4)), jnp.zeros((1,))
    return jax.eval_shape(model.init, jax.random.PRNGKey(0), x, t)["params"]


@pytest.mark.parametrize("size, count", [("T", 20_774_444), ("B", 157_729_988), ("L", 628_575_524)])
def test_parameter_counts_match_poseidon(size, count):
    assert sum(int(np.prod(a.shape)) for a in jax.tree.leaves(shapes(size))) == count


def test_parameter_tree_naming():
    params = shapes("T")
    assert {"embeddings", "patch_recovery", "encoder", "decoder"} <= set(params)
    norms = 0

    def visit(node, path):
        nonlocal norms
        for name, child in node.items():
            if not isinstance(child, dict):
                continue
            if "norm" in name:
                norms += 1
                assert set(child) == {"weight", "bias"}, path + (name,)
                width = child["weight"]["kernel"].shape[1]
                for sub in ("weight", "bias"):
                    assert child[sub]["kernel"].shape == (1, width)
                    assert child[sub]["bias"].shape == (width,)
            else:
                visit(child, path + (name,))

    visit(params, ())
    # per block 2; embeddings 1; merging 3; unmerging 3; ConvNeXt 6
    assert norms == 2 * 2 * 16 + 1 + 3 + 3 + 6


def test_windows_round_trip_and_tables():
    x = jnp.arange(2 * 8 * 12 * 3, dtype=jnp.float32).reshape(2, 8, 12, 3)
    windows = window_partition(x, 4)
    assert windows.shape == (2, 6, 16, 3)
    np.testing.assert_array_equal(windows[0, 1, 5], x[0, 1, 5])  # window (0, 1), token (1, 1)
    np.testing.assert_array_equal(window_reverse(windows, 4, 8, 12), x)

    w = 3
    index, table = relative_position_index(w), relative_coords_table(w)
    for i in range(w * w):
        for j in range(w * w):
            dy, dx = i // w - j // w, i % w - j % w
            expected = [math.copysign(math.log2(1 + 8 * abs(d) / (w - 1)) / 3, d) for d in (dy, dx)]
            np.testing.assert_allclose(table[index[i, j]], expected, rtol=1e-6)


def test_shift_mask_separates_wrapped_regions():
    mask = shift_window_mask(8, 8, 4, 2)
    assert mask.shape == (4, 16, 16)
    np.testing.assert_array_equal(mask[0], 0.0)  # the top-left window holds one region
    # bottom-right window: 4 regions of 2x2 tokens; tokens 0 and 3 share one, 0 and 2 not
    assert mask[3, 0, 1] == 0.0 and mask[3, 0, 2] == -100.0 and mask[3, 0, 8] == -100.0


def test_logit_scale_is_clamped_at_100():
    attention = CosineWindowSelfAttention(num_heads=2, window=2)
    x = jax.random.normal(jax.random.PRNGKey(0), (1, 1, 4, 4))
    template = jax.eval_shape(attention.init, jax.random.PRNGKey(1), x)
    leaves, tree = jax.tree.flatten(template)
    keys = jax.random.split(jax.random.PRNGKey(2), len(leaves))
    params = tree.unflatten([jax.random.normal(k, a.shape) for k, a in zip(keys, leaves)])
    apply = jax.jit(attention.apply)

    def with_scale(value):
        p = jax.tree_util.tree_map_with_path(
            lambda path, a: jnp.full_like(a, value) if path[-1].key == "logit_scale" else a,
            params,
        )
        return apply(p, x)

    np.testing.assert_array_equal(with_scale(math.log(100.0)), with_scale(10.0))
    assert not np.allclose(with_scale(math.log(50.0)), with_scale(10.0))


def test_fourier_resampling_is_exact_on_band_limited_fields():
    n, m = 8, 12
    grid = np.arange(m) / m
    field = np.sin(2 * np.pi * grid)[:, None] + np.cos(2 * np.pi * 3 * grid)[None, :]
    fine = jnp.asarray(field, jnp.float32)[None, :, :, None]
    coarse = fourier_downsample(fine, n)
    sampled = (
        np.sin(2 * np.pi * np.arange(n) / n)[:, None]
        + np.cos(2 * np.pi * 3 * np.arange(n) / n)[None, :]
    )
    np.testing.assert_allclose(coarse[0, :, :, 0], sampled, atol=1e-5)
    np.testing.assert_allclose(fourier_upsample(coarse, m), fine, atol=1e-5)


def test_lead_time_is_required_when_conditioned():
    model = ScOT(1, 1, image_size=8, patch_size=2, embed_dim=4, depths=(1,), num_heads=(1,))
    model = model.clone(skip_connections=(0,), window_size=4)
    with pytest.raises(ValueError, match="lead times"):
        jax.eval_shape(model.init, jax.random.PRNGKey(0), jnp.zeros((1, 8, 8, 1)))
