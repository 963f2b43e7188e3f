"""Training data drawn inside the train step: fresh trajectories from a dataset's generator.

With ``data.on_the_fly``, no training file exists. Each step draws its batch from the
problem that the dataset recipe names (:class:`~opjax.data.generation.Problem`): per sample
a key, the trajectory ``problem.sample(key)`` (solved inside the jitted step), a window
start ``s`` uniform among those that leave room for the window, and the window itself,

    x = the states s, s + d, .., s + (k - 1) d   stacked as channels  [*space, k c],
    y = the next ``levels`` states               [levels, *space, c],

``d`` being ``data.window.time_step``. The keys come from the step's random key, which
depends only on the seed and the step, so a resumed run draws exactly what the
uninterrupted one drew.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

from opjax.training.objectives import Objective

#: ``key -> {"x": [b, *space, k c], "y": [b, levels, *space, c], "params": [b, p]}``.
Drawer = Callable[[jax.Array], dict]


def window_drawer(
    problem,
    field: str,
    batch_size: int,
    *,
    k: int,
    levels: int,
    time_step: int = 1,
    params: Sequence[str] = (),
) -> Drawer:
    """Draw ``batch_size`` windows of ``k`` input and ``levels`` next states of ``field``
    (module docstring), with the named per-sample ``params`` of the problem.

    Raises:
        ValueError: the problem's trajectories are too short for the window, or ``field``
            or a parameter is not among its outputs.
    """
    span = (k + levels - 1) * time_step + 1
    n_times = len(problem.times) if problem.times is not None else 0
    if span > n_times:
        raise ValueError(
            f"a window of {k} input and {levels} next states every {time_step} saved states "
            f"spans {span} states; the problem saves {n_times}"
        )
    offsets = jnp.arange(k + levels) * time_step

    def one(key):
        trajectory_key, start_key, fraction_key = jax.random.split(key, 3)
        if problem.swept:
            sample = problem.sample(trajectory_key, jax.random.uniform(fraction_key))
        else:
            sample = problem.sample(trajectory_key)
        if f"fields/{field}" not in sample:
            raise ValueError(f"the problem has no field {field!r}")
        u = sample[f"fields/{field}"]  # [n_times, *space]
        start = jax.random.randint(start_key, (), 0, n_times - span + 1)
        states = jnp.take(u, start + offsets, axis=0)[..., None]  # [k + levels, *space, 1]
        x = jnp.concatenate(list(states[:k]), axis=-1)
        out = {"x": x, "y": states[k:]}
        if params:
            missing = [name for name in params if f"params/{name}" not in sample]
            if missing:
                raise ValueError(f"the problem has no parameters {missing}")
            out["params"] = jnp.stack([sample[f"params/{name}"] for name in params])
        return {key: value.astype(jnp.float32) for key, value in out.items()}

    def draw(key):
        return jax.vmap(one)(jax.random.split(key, batch_size))

    return draw


def on_the_fly_objective(objective: Objective, draw: Drawer, sharding=None) -> Objective:
    """``objective`` on a batch drawn by ``draw`` from the step's key; the loop's batch gives
    only the sample weights (1 real, 0 padding) and the step. With a ``sharding`` (the
    batch's, over the mesh's data axis) the drawn batch is split over the devices, each
    solving its own trajectories."""

    def wrapped(params, batch, rng):
        draw_key, objective_key = jax.random.split(rng)
        drawn = draw(draw_key)
        if sharding is not None:
            drawn = jax.lax.with_sharding_constraint(drawn, sharding)
        return objective(params, {**batch, **drawn}, objective_key)

    return wrapped
