"""The notebooks run from top to bottom at small settings (their code cells, in order)."""

import json
import os
from pathlib import Path

import matplotlib
import numpy as np
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def code_cells(path: Path) -> list[str]:
    cells = json.loads(path.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


@pytest.mark.slow
def test_quickstart_generates_trains_evaluates_and_predicts(tmp_path, monkeypatch):
    matplotlib.use("Agg")
    monkeypatch.setenv("OPJAX_QUICKSTART_SMALL", "1")
    namespace: dict = {}
    for i, source in enumerate(code_cells(NOTEBOOKS / "quickstart.ipynb")):
        exec(compile(source, f"quickstart.ipynb[cell {i}]", "exec"), namespace)
    assert (tmp_path / "quickstart/data/train.h5").exists()
    report = tmp_path / "quickstart/runs/fno_burgers/report"
    assert (report / "samples_test.png").exists()
    # The notebook's own error equals the report's (same model, same test file).
    assert np.isclose(namespace["errors"].mean(), namespace["results"]["test"]["l2"], rtol=1e-3)
    assert np.all(np.isfinite(namespace["prediction"]))


@pytest.mark.slow
def test_finetune_notebook_pretrains_finetunes_and_rolls_out(tmp_path, monkeypatch):
    matplotlib.use("Agg")
    monkeypatch.setenv("OPJAX_FINETUNE_SMALL", "1")
    namespace: dict = {}
    for i, source in enumerate(code_cells(NOTEBOOKS / "finetune_scot.ipynb")):
        exec(compile(source, f"finetune_scot.ipynb[cell {i}]", "exec"), namespace)
    # Fine-tuning started from the pretrained weights: its first epoch is already below
    # the from-scratch run's, and its loss falls.
    tuned = [r["train_loss"] for r in namespace["metrics"](namespace["finetuned"])]
    scratch = [r["train_loss"] for r in namespace["metrics"](namespace["from_scratch"])]
    assert tuned[-1] < tuned[0]
    assert tuned[0] < scratch[0]
    assert namespace["rollout"].shape == (2, 4, 32, 32)
    assert np.all(np.isfinite(namespace["rollout_error"]))
    assert np.isfinite(namespace["finetuned"].final_metrics["test"]["relative_l1"])


def test_notebooks_are_committed_without_outputs():
    for path in NOTEBOOKS.glob("*.ipynb"):
        for cell in json.loads(path.read_text())["cells"]:
            assert not cell.get("outputs"), f"{path.name} has stored outputs"
    assert os.path.exists(NOTEBOOKS / "quickstart.ipynb")
