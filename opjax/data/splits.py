"""The samples a training recipe's ``[data]`` table names: its train and test splits.

:func:`generate_data` first generates the dataset that ``data.generate`` names, if any;
:func:`load_splits` reads the training file and every test file; :func:`read_split` reads
one file the way the recipe says (field keys, windows, all2all pairs, PDE parameters).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from opjax.data.formats import open_dataset, read_dataset
from opjax.data.generation import generate, generate_split, load_dataset_recipe
from opjax.data.sample import Sample
from opjax.data.windowing import all_to_all_pairs, k_in_m_out, whole_trajectories
from opjax.recipe_tables import RecipeError


@dataclasses.dataclass
class Splits:
    train: Sample
    tests: dict[str, Sample]


def read_split(
    data_cfg: dict, path: str, n_samples: int = 0, split: str = "", *, training: bool = False
) -> Sample:
    """Read one file with the recipe's format and keys (``data_cfg``: a resolved recipe's
    ``[data]`` table): its first ``n_samples`` samples
    (0: all), of the file's own ``split`` when named (e.g. Poseidon's ``"test"``); with
    ``data.window.field`` set, the windows of those trajectories instead (``pairs =
    "k_in_m_out"``), or Poseidon's all2all pairs with their lead times ``t``
    (``pairs = "all2all"``), or whole trajectories (``pairs = "trajectories"``: the first
    ``window.max_states`` states of the ``training`` split, all states of a test split).
    ``window.all_offsets`` applies to the ``training`` split only;
    ``window.params`` names per-trajectory PDE parameters of the file that every pair
    carries as ``params`` (:func:`read_params`)."""
    window = data_cfg["window"]
    if window["field"]:
        with open_dataset(path, data_cfg["format"]) as file:
            field = file.field(window["field"])
            if split and split not in file.splits:
                raise RecipeError(f"{path}: no split {split!r} (splits: {sorted(file.splits)})")
            indices = file.splits[split] if split else np.arange(field.n_samples)
            samples = np.asarray(indices[: n_samples or len(indices)])
            params = read_params(file, window["params"], samples, path)
            if window["pairs"] == "trajectories":
                return whole_trajectories(
                    field,
                    (training and window["max_states"]) or None,
                    time_step=window["time_step"],
                    samples=samples,
                    params=params,
                )
            if window["pairs"] == "all2all":
                return all_to_all_pairs(
                    field,
                    file.times,
                    time_scale=window["time_scale"] or file.constants.get("time", 1.0),
                    time_step=window["time_step"],
                    max_states=window["max_states"] or None,
                    samples=samples,
                    params=params,
                )
            return k_in_m_out(
                field,
                window["k"],
                window["m"],
                stride=window["stride"],
                time_step=window["time_step"],
                all_offsets=training and window["all_offsets"],
                samples=samples,
                params=params,
            )
    return read_dataset(
        data_cfg["format"],
        path,
        x_key=data_cfg["x_key"],
        y_key=data_cfg["y_key"],
        n_samples=n_samples or None,
        split=split or None,
    )


def read_params(file, names, samples: np.ndarray, path: str = "") -> np.ndarray | None:
    """``[len(samples), len(names)]`` float32: the named per-sample PDE parameters of an open
    file (a file-wide scalar is repeated), or None when no names are given.

    Raises:
        RecipeError: naming the parameter the file lacks, and those it has.
    """
    if not names:
        return None
    columns = []
    for name in names:
        if name not in file.params:
            raise RecipeError(
                f"{path}: data.window.params names {name!r}, but the file's parameters are "
                f"{sorted(file.params) or 'none'}"
            )
        value = np.asarray(file.params[name])
        columns.append(np.broadcast_to(value, (file.n_samples,)) if value.ndim == 0 else value)
    return np.stack(columns, axis=-1)[samples].astype(np.float32)


def generate_data(data_cfg: dict, *, progress: bool = False) -> None:
    """Generate (or reuse) the dataset ``data.generate`` names; point the recipe at it.

    The dataset recipe's ``train`` split becomes ``data.train`` and its other splits the
    test sets, unless the training recipe names its own; the format becomes ``opjax_h5``.
    With ``data.on_the_fly`` the ``train`` split is drawn during training instead, so
    only the test splits are written (and ``data.train`` stays empty).
    """
    if not data_cfg["generate"]:
        return
    recipe = load_dataset_recipe(data_cfg["generate"])
    if "train" not in recipe["splits"]:
        raise RecipeError(f"{data_cfg['generate']}: the dataset recipe has no 'train' split")
    if data_cfg["on_the_fly"]:
        tests = [name for name in recipe["splits"] if name != "train"]
        files = {name: generate_split(recipe, name, progress=progress) for name in tests}
    else:
        files = generate(recipe, progress=progress)
    data_cfg["format"] = "opjax_h5"
    if not data_cfg["on_the_fly"]:
        data_cfg["train"] = data_cfg["train"] or str(files.pop("train"))
    data_cfg["test"] = data_cfg["test"] or {
        name: str(path) for name, path in files.items() if name != "train"
    }


def load_splits(data_cfg: dict, train_levels: int = 0) -> Splits:
    """The training split and the test splits; with ``train_levels > 0`` the training
    windows have that many next states (``m``) instead of ``data.window.m``: an objective
    that rolls the model out compares it with that many.

    Raises:
        RecipeError: a file is not named, or the splits' channel counts differ.
    """
    if not data_cfg["train"]:
        raise RecipeError("data.train is not set: name the training file")
    train_cfg = data_cfg
    if train_levels:
        train_cfg = {**data_cfg, "window": {**data_cfg["window"], "m": train_levels}}
    train = read_split(
        train_cfg, data_cfg["train"], data_cfg["n_train"], data_cfg["train_split"], training=True
    )
    return Splits(train, load_tests(data_cfg, train))


def load_tests(data_cfg: dict, train: Sample) -> dict[str, Sample]:
    """``{name: Sample}``: every test file, read as ``data_cfg`` says.

    Raises:
        RecipeError: none is named, or one's channel counts differ from ``train``'s.
    """
    if not data_cfg["test"]:
        raise RecipeError("data.test is empty: name at least one test file")
    tests = {
        name: read_split(data_cfg, path, data_cfg["n_test"], data_cfg["test_split"])
        for name, path in data_cfg["test"].items()
    }
    channels = (train["x"].shape[-1], train["y"].shape[-1])
    for name, test in tests.items():
        if (test["x"].shape[-1], test["y"].shape[-1]) != channels:
            raise RecipeError(
                f"test set {name!r} has {test['x'].shape[-1]} input and {test['y'].shape[-1]} "
                f"output channels; the training set has {channels[0]} and {channels[1]}"
            )
    return tests
