"""The model card: one schema, one writer, one reader; opjax 0.1.0's cards still load."""

import dataclasses
import json
import shutil

import jax
import numpy as np
import pytest

import opjax
from opjax.data.normalizers import Normalizers, UnitGaussianNormalizer
from opjax.runs import (
    CARD_VERSION,
    DataSpec,
    EvaluationSpec,
    MeshSpec,
    ModelCard,
    ModelCardError,
    TrainingSpec,
    read_model_card,
    write_model_card,
)
from tests.conftest import FIXTURES

V010 = FIXTURES / "runs_v010"


def _card(**changes) -> ModelCard:
    card = ModelCard(
        model="fno",
        hparams={"n_modes": [4], "hidden_channels": 8},
        normalizers=Normalizers(y=UnitGaussianNormalizer(np.ones(1), np.full(1, 2.0))),
        sample_shapes={"x": (16, 1), "y": (16, 1), "t": ()},
        weights="ema",
        evaluation=EvaluationSpec(h1_periodic=False, channel_groups=(0, 1)),
        data=DataSpec("opjax_h5", "u[0]", "u[-1]", {"field": ""}, {"test": (16,)}),
        training=TrainingSpec("relative_l1", "one_step", 0.99, None),
        source=None,
        opjax_version="0.2.0",
    )
    return dataclasses.replace(card, **changes)


def test_a_card_round_trips_through_model_json(tmp_path):
    card = _card()
    write_model_card(tmp_path, card)
    raw = json.loads((tmp_path / "model.json").read_text())
    assert raw["card_version"] == CARD_VERSION and raw["sample_shapes"]["t"] == []
    again = read_model_card(tmp_path)
    assert again.to_json() == card.to_json()
    assert again.sample_shapes == card.sample_shapes and again.data.tests == {"test": (16,)}
    np.testing.assert_array_equal(again.normalizers.y.std, [2.0])


def test_a_converted_card_has_a_source_and_no_training(tmp_path):
    card = _card(data=None, training=None, source={"neuralop": {"class": "FNO"}})
    write_model_card(tmp_path, card)
    again = read_model_card(tmp_path)
    assert again.training is None and again.data is None
    assert again.source == {"neuralop": {"class": "FNO"}}


def test_a_mesh_models_card_keeps_its_mesh_and_version_3_cards_have_none(tmp_path):
    card = _card(mesh=MeshSpec(degree=2, n_dofs=65, levels=2))
    write_model_card(tmp_path, card)
    assert read_model_card(tmp_path).mesh == MeshSpec(2, 65, 2)
    raw = json.loads((tmp_path / "model.json").read_text())
    del raw["mesh"]
    (tmp_path / "model.json").write_text(json.dumps({**raw, "card_version": 3}))
    assert read_model_card(tmp_path).mesh is None
    (tmp_path / "model.json").write_text(json.dumps(raw))
    with pytest.raises(ModelCardError, match="no field 'mesh'"):
        read_model_card(tmp_path)


def test_a_card_missing_a_field_names_it(tmp_path):
    write_model_card(tmp_path, _card())
    raw = json.loads((tmp_path / "model.json").read_text())
    del raw["training"]["objective"]
    (tmp_path / "model.json").write_text(json.dumps(raw))
    with pytest.raises(ModelCardError, match=r"model.json.*'training.objective'"):
        read_model_card(tmp_path)
    del raw["weights"]
    (tmp_path / "model.json").write_text(json.dumps(raw))
    with pytest.raises(ModelCardError, match="'weights'"):
        read_model_card(tmp_path)


@pytest.mark.parametrize(
    "text, match",
    [
        ("{not json", "not a JSON model card"),
        ("[1, 2]", "a JSON object, got list"),
        ('{"card_version": 9}', "card_version 9"),
    ],
)
def test_garbage_cards_are_refused_by_name(tmp_path, text, match):
    (tmp_path / "model.json").write_text(text)
    with pytest.raises(ModelCardError, match=match):
        read_model_card(tmp_path)


def test_invalid_weights_are_refused():
    with pytest.raises(ModelCardError, match="weights = 'best'"):
        _card(weights="best")


def test_version_1_cards_of_trained_and_converted_runs_are_read():
    trained = read_model_card(V010 / "darcy_fno")
    assert trained.model == "fno" and trained.sample_shapes == {"x": (16, 16, 1), "y": (16, 16, 1)}
    assert trained.training == TrainingSpec("h1", "one_step", 0.0, None)
    assert trained.data.tests == {"16": (16, 16), "32": (32, 32)} and trained.source is None
    assert trained.evaluation == EvaluationSpec(h1_periodic=True, channel_groups=None)
    assert trained.weights == "params" and trained.opjax_version == "0.1.0"
    converted = read_model_card(V010 / "converted_tfno")
    assert converted.training is None and converted.data is None
    assert (
        converted.source["neuralop"]["class"] == "FNO"
        and converted.hparams["factorization"] == "cp"
    )


@pytest.mark.parametrize("name", ["darcy_fno", "converted_tfno"])
@pytest.mark.parametrize("checkpoint", ["latest", "best"])
def test_run_directories_of_opjax_0_1_0_load_and_predict_as_they_did(name, checkpoint, tmp_path):
    run_dir = shutil.copytree(V010 / name, tmp_path / name)
    expected = np.load(V010 / "predictions.npz")
    run = opjax.load(run_dir, checkpoint)
    prediction = run.predict(jax.numpy.asarray(expected[f"{name}_x"]))
    np.testing.assert_allclose(prediction, expected[f"{name}_y"], rtol=1e-5, atol=1e-6)
