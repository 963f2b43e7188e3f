"""PDE-Refiner's training objective at each step, and an end-to-end refiner run with an
EMA of the weights that resumes bit-exactly."""

import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import opjax
from opjax.models import PDERefiner, UNet
from opjax.runs import directory as rd
from opjax.runs import read_model_card
from opjax.runs.checkpoints import RunCheckpoints
from opjax.training import RecipeError, load_recipe
from opjax.training.objectives import refinement_objective, refinement_steps, squared_error
from opjax.workflows import evaluate_run, train
from tests.conftest import REPO

BACKBONE = {
    "hidden_channels": 4,
    "ch_mults": (1, 2),
    "n_blocks": 1,
    "norm_groups": 1,
    "output_norm_groups": 1,
}


@pytest.mark.parametrize("difference", [False, True])
def test_objective_regresses_the_state_at_step_zero_and_the_noise_after(difference):
    """With a zero-initialised output the prediction is 0, so the loss is the mean of the
    targets' squares: the (scaled difference) state where k = 0, the noise where k >= 1."""
    model = PDERefiner(
        in_channels=1,
        out_channels=1,
        backbone_hparams=BACKBONE,
        num_refinement_steps=3,
        predict_difference=difference,
        difference_weight=0.5,
    )
    x = jax.random.normal(jax.random.PRNGKey(0), (16, 16, 1))
    y = x + 2.0 * jax.random.normal(jax.random.PRNGKey(1), x.shape)
    params = model.init(jax.random.PRNGKey(2), x)
    weight = jnp.ones(16).at[-1].set(0.0)  # one padding sample
    rng = jax.random.PRNGKey(3)
    loss, aux = jax.jit(refinement_objective(model))(
        params, {"x": x, "y": y, "weight": weight}, rng
    )
    step, noise = refinement_steps(rng, y, 3)
    assert set(np.asarray(step[:-1]).tolist()) >= {0, 1}  # both kinds occur in this draw
    state = (y - x) / 0.5 if difference else y
    target = jnp.where((step == 0)[:, None, None], state, noise)
    expected = jnp.sum(squared_error(jnp.zeros_like(y), target) * weight) / 15
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    assert aux == {}


def test_objective_refuses_other_models():
    with pytest.raises(TypeError, match="PDERefiner"):
        refinement_objective(UNet(in_channels=1, out_channels=1))


KS = """problem = "ks1d"
chunk_size = 8
[parameters]
points = 32
n_times = 13
dt = 0.1
[splits]
train = 8
test = 2
"""


@pytest.fixture(scope="module")
def ks_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("ks")
    (root / "ks.toml").write_text(f"output = '{root / 'data'}'\n" + KS)
    return root / "ks.toml"


def _recipe(data, run_dir, *extra, name="refiner_ks"):
    return load_recipe(
        REPO / "train" / f"{name}.toml",
        [
            f"run_dir='{run_dir}'",
            f"data.generate='{data}'",
            "data.window={ field = 'u', k = 1, m = 1, time_step = 2 }",
            "data.n_test=0",
            *(
                [  # conditioned on the domain length, as PDE-Refiner on dx
                    "data.window.params=['domain_length']",
                    "model.hparams.backbone_hparams={ hidden_channels = 4, ch_mults = [1, 2], "
                    "n_blocks = 1, norm_groups = 1, output_norm_groups = 1, "
                    "n_condition_params = 1 }",
                    "model.hparams.num_refinement_steps=2",
                ]
                if name == "refiner_ks"
                else []
            ),
            "train.epochs=2",
            "train.batch_size=8",
            "train.eval_batch_size=8",
            "train.eval_every=1",
            "train.checkpoint_every=1",
            "train.ema_decay=0.5",
            "optimizer.warmup=0",
            *extra,
        ],
    )


def strip(records):
    """Metrics records without their timings."""
    return [{k: v for k, v in r.items() if k not in ("time_s", "samples_per_s")} for r in records]


def test_refiner_run_with_ema_resumes_bit_exactly(ks_data, tmp_path):
    reference = train(_recipe(ks_data, tmp_path / "ref"))
    card = read_model_card(tmp_path / "ref")
    assert card.model == "refiner" and card.training.ema_decay == 0.5 and card.weights == "ema"
    assert card.hparams["backbone_hparams"]["ch_mults"] == [1, 2]
    loaded = opjax.load(tmp_path / "ref")
    jax.tree.map(np.testing.assert_array_equal, loaded.params, reference.params)
    checkpoints = RunCheckpoints(str(tmp_path / "ref" / rd.CHECKPOINTS), read_only=True)
    raw = checkpoints.restore_params("latest", loaded.params, key="params")
    checkpoints.close()
    differs = jax.tree.map(
        lambda a, b: bool(np.any(a != b)), raw["params"], loaded.params["params"]
    )
    assert any(jax.tree.leaves(differs))  # load() gives the moving average, not the weights
    # Every window carried its trajectory's domain length; the model uses it.
    assert card.sample_shapes["params"] == (1,)
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 32, 1))
    short, long = (loaded.predict(x, z=np.full((2, 1), length)) for length in (58.0, 70.0))
    assert np.all(np.isfinite(short)) and np.any(np.asarray(short) != np.asarray(long))
    rollout = evaluate_run(str(tmp_path / "ref"), rollout=3)["test"]["rollout"]
    assert rollout["steps"] == 3 and np.isfinite(rollout["l2_mean"])

    # Interrupt after epoch 0: drop the last epoch's checkpoints, then resume.
    run = tmp_path / "resumed"
    shutil.copytree(tmp_path / "ref", run)
    first = rd.read_metrics(run)[0]
    for which in ("latest", "best"):
        folder = run / rd.CHECKPOINTS / which
        for step in folder.iterdir():
            if step.name.isdigit() and int(step.name) > first["step"]:
                shutil.rmtree(step)
    resumed = train(_recipe(ks_data, run), resume=True)
    jax.tree.map(np.testing.assert_array_equal, resumed.params, reference.params)
    assert strip(rd.read_metrics(run)) == strip(rd.read_metrics(tmp_path / "ref"))
    assert strip([first]) == strip(rd.read_metrics(run)[:1])


def test_refinement_objective_needs_mse_and_a_refiner(ks_data, tmp_path):
    with pytest.raises(RecipeError, match="train.loss = 'mse'"):
        train(_recipe(ks_data, tmp_path / "a", "train.loss='l2'"))
    with pytest.raises(RecipeError, match="PDERefiner"):
        train(_recipe(ks_data, tmp_path / "b", "train.objective='refinement'", name="unet_ks"))
    with pytest.raises(RecipeError, match="ema_decay"):
        train(_recipe(ks_data, tmp_path / "c", "train.ema_decay=1.0"))
    assert not any((tmp_path / name).exists() for name in "abc")  # no run directory left


def test_pde_parameters_need_a_model_that_takes_them(ks_data, tmp_path):
    with pytest.raises(RecipeError, match="takes no z"):
        train(
            _recipe(
                ks_data, tmp_path / "a", "data.window.params=['domain_length']", name="fno_ks1d"
            )
        )
    with pytest.raises(RecipeError, match="'viscosity'.*'domain_length'"):
        train(_recipe(ks_data, tmp_path / "b", "data.window.params=['viscosity']"))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
