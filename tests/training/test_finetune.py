import numpy as np
import pytest

from opjax.training.finetune import Pretrained, finetune_hparams, merge_pretrained
from opjax.training.recipe import RecipeError


def _variables(in_channels: int, scale: float = 0.0) -> dict:
    return {
        "params": {
            "embeddings": {"kernel": np.full((4, 4, in_channels, 8), scale, np.float32)},
            "encoder": {"kernel": np.full((8, 8), scale + 1, np.float32)},
            "patch_recovery": {"kernel": np.full((8, 2 * in_channels), scale, np.float32)},
        }
    }


def test_merge_reuses_the_trunk_and_replaces_embedding_and_recovery():
    fresh, pretrained = _variables(3), _variables(4, scale=5.0)
    merged = merge_pretrained(fresh, pretrained, replace=True, source="ckpt")
    np.testing.assert_array_equal(merged["params"]["encoder"]["kernel"], 6.0)
    np.testing.assert_array_equal(merged["params"]["embeddings"]["kernel"], 0.0)
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


def test_finetune_hparams_take_channels_from_the_data():
    pretrained = Pretrained("scot", {"in_channels": 4, "out_channels": 4, "depth": 2}, {}, "c")
    hparams, replace = finetune_hparams(pretrained, {"depth": 3}, 2, 2, "auto")
    assert hparams == {"in_channels": 2, "out_channels": 2, "depth": 3} and replace
    assert finetune_hparams(pretrained, {}, 4, 4, "auto")[1] is False
    assert finetune_hparams(pretrained, {}, 4, 4, "always")[1] is True
    with pytest.raises(RecipeError, match="replace_embedding_recovery"):
        finetune_hparams(pretrained, {}, 2, 2, "never")
