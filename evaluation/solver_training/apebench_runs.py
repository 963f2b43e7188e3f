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
