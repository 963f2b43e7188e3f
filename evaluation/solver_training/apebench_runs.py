"""APEBench's own runs of the scenarios of ``evaluation/solver_training.md`` (issue 20).

Runs ``apebench.run_experiment`` for each scenario and training configuration with
APEBench's default network (``Conv;34;10;relu``), optimiser (Adam, 10,000 steps,
warmup-cosine to 1e-3) and data (50 training trajectories of 51 states, 30 test ones of
201), one seed, then rolls each trained network out from the first state of every test
trajectory and writes the per-trajectory, per-step nRMSE (exponax's ``nRMSE``: the RMSE
of the error over the RMSE of the reference) to ``--out/apebench_<scenario>_<method>.npz``
(``nrmse [30, 200]``, ``seconds``).

It needs apebench, which opjax does not depend on: run it in its own environment::

    python -m venv /tmp/apebench && /tmp/apebench/bin/pip install apebench==0.1.1
    /tmp/apebench/bin/python evaluation/solver_training/apebench_runs.py --out DIR
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import apebench
import equinox as eqx
import exponax as ex
import jax
import numpy as np

SCENARIOS = {"adv_diff": "phy_adv_diff", "burgers": "phy_burgers", "ks_cons": "phy_ks_cons"}
#: method -> (task, train): the configurations compared with opjax's.
METHODS = {
    "one_step": ("predict", "one"),
    "unrolled": ("predict", "sup;5"),
    "diverted_chain": ("predict", "div;5"),
    "correction": ("correct;parallel", "sup;5"),
}


def stop_gradient_arrays(module):
    """``module`` with a stop-gradient on its arrays only.

    apebench 0.1.1's ``CorrectedStepper`` calls ``jax.lax.stop_gradient`` on the whole
    coarse exponax stepper; under jax 0.10 that also turns its integer fields (the grid
    size) into traced arrays, and the stepper's shape check fails inside ``jit``
    (``unsupported operand type(s) for *: 'tuple' and 'DynamicJaxprTracer'``). Stopping
    the gradient of the array leaves only is what the original means and computes the same
    numbers; ``main`` installs it before APEBench's correction runs.
    """
    return jax.tree.map(lambda a: jax.lax.stop_gradient(a) if eqx.is_array(a) else a, module)


def patch_corrected_stepper() -> None:
    """Make apebench's ``CorrectedStepper`` stop gradients with ``stop_gradient_arrays``."""
    from apebench import _corrected_stepper

    def call(self, x):
        coarse = stop_gradient_arrays(self.coarse_stepper)
        if self.mode == "parallel":
            return coarse(x) + self.network(x)
        coarse_prediction = coarse(x)
        if self.mode == "sequential":
            return self.network(coarse_prediction)
        if self.mode == "sequential_with_bypass":
            return coarse_prediction + self.network(coarse_prediction)
        raise ValueError(f"Unknown mode {self.mode}")

    _corrected_stepper.CorrectedStepper.__call__ = call


def patch_optimizer_init() -> None:
    """Make trainax initialise the optimiser on the stepper's floating-point arrays only.

    trainax 0.0.2 initialises the optimiser state on every array of the stepper, while its
    gradients (``equinox.filter_value_and_grad``) leave non-float arrays out. A corrected
    stepper carries the coarse exponax stepper, whose dealiasing mask (Burgers, KS) is a
    bool array; optax 0.2.8 refuses the mismatch of state and gradient trees. With the
    float arrays only, the two trees agree and Adam's update of every trained array is
    unchanged; ``main`` installs this before APEBench's runs.
    """
    from trainax import _general_trainer

    trainer_call = _general_trainer.GeneralTrainer.__call__

    def call(self, stepper, key, opt_state=None, **kwargs):
        if opt_state is None:
            opt_state = self.optimizer.init(eqx.filter(stepper, eqx.is_inexact_array))
        return trainer_call(self, stepper, key, opt_state, **kwargs)

    _general_trainer.GeneralTrainer.__call__ = call


def first_seed(scenario, task: str, networks):
    """The first seed's network (``run_experiment`` stacks several seeds' arrays on a
    leading axis, and returns one seed's network as it is)."""
    template = scenario.get_neural_stepper(
        task_config=task, network_config="Conv;34;10;relu", key=jax.random.PRNGKey(0)
    )
    template_leaves = jax.tree.leaves(eqx.filter(template, eqx.is_array))
    stacked = jax.tree.leaves(eqx.filter(networks, eqx.is_array))
    if [a.shape for a in stacked] == [a.shape for a in template_leaves]:
        return networks
    return jax.tree.map(lambda a: a[0] if eqx.is_array(a) else a, networks)


def per_trajectory_nrmse(scenario, network) -> np.ndarray:
    """``[n_test, T]``: the nRMSE of each test trajectory's rollout at each step."""
    test = scenario.get_test_data()
    rollout = jax.vmap(ex.rollout(network, scenario.test_temporal_horizon, include_init=False))
    predicted = rollout(test[:, 0])
    error = jax.vmap(jax.vmap(ex.metrics.nRMSE))(predicted, test[:, 1:])
    return np.asarray(error)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    patch_corrected_stepper()
    patch_optimizer_init()
    for name in args.scenarios:
        for method in args.methods:
            path = args.out / f"apebench_{name}_{method}.npz"
            if path.exists():
                continue
            task, train = METHODS[method]
            start = time.perf_counter()
            _, networks = apebench.run_experiment(
                scenario=SCENARIOS[name],
                task=task,
                net="Conv;34;10;relu",
                train=train,
                start_seed=0,
                num_seeds=1,
            )
            seconds = time.perf_counter() - start
            scenario = apebench.scenarios.scenario_dict[SCENARIOS[name]]()
            network = first_seed(scenario, task, networks)
            nrmse = per_trajectory_nrmse(scenario, network)
            np.savez(path, nrmse=nrmse, seconds=seconds)
            print(f"{name} {method}: {seconds:.0f} s, mean nRMSE(100) {nrmse[:, :100].mean():.4f}")


if __name__ == "__main__":
    main()
