"""Windows over trajectories: training pairs and rollout targets from a time-dependent field.

Every function takes a time-dependent :class:`~opjax.data.fields.LazyField`
``[n, T, *space, c]`` and returns a Sample (channels-last), reading only the trajectories
asked for. Time and space can be subsampled first: ``time_step = s`` keeps saved states
``0, s, 2s, ...``; ``space_step = r`` keeps every ``r``-th point along each spatial axis.
Below, ``T'`` is the number of states kept.

* :func:`k_in_m_out`: every window of ``k + m`` consecutive kept states, starting every
  ``stride`` states: ``x`` = the ``k`` input states stacked as channels (oldest first,
  ``[N, *space, k c]``), ``y`` = the ``m`` next states (``[N, *space, c]`` for ``m = 1``,
  else ``[N, m, *space, c]``), ``N = n * n_windows``, windows of a trajectory contiguous.
  With ``all_offsets``, the windows of states ``o, o + s, o + 2s, ...`` for every offset
  ``o = 0..s-1`` (``s = time_step``): all the saved states serve as window starts, which
  pdearena's training reaches by drawing a random offset per trajectory and epoch.
* :func:`rollout_targets`: one pair per trajectory for autoregressive evaluation: the first
  ``k`` kept states as ``x`` and the next ``horizon`` states as ``y [n, horizon, *space, c]``.
* :func:`whole_trajectories`: one sample per trajectory for reduced-order models trained
  on whole trajectories: ``x`` = the first kept state, ``y`` = the first ``n_states``
  kept states ``[n, n_states, *space, c]`` (the first one included).
* :func:`all_to_all_pairs`: Poseidon's all2all training pairs: for kept states ``i <= j``
  (identity pairs included), ``x`` = state ``i``, ``y`` = state ``j`` and the lead time
  ``t = (t_j - t_i) / time_scale``; ``T' (T' + 1) / 2`` pairs per trajectory.

Each takes the trajectories' PDE parameters ``params [n, n_params]`` (optional) and repeats
them for every pair of a trajectory as the sample's ``params``.
"""

from __future__ import annotations

import numpy as np

from opjax.data.errors import DataFormatError
from opjax.data.fields import LazyField
from opjax.data.sample import Sample, validate_sample


def _checked(field: LazyField, time_step: int, space_step: int) -> None:
    if not field.time_dependent:
        raise DataFormatError(f"field {field.name!r} has no time axis to window over")
    if time_step < 1 or space_step < 1:
        raise DataFormatError(
            f"time_step and space_step must be >= 1; got {time_step}, {space_step}"
        )


def _read(field: LazyField, samples, time_step: int, space_step: int) -> np.ndarray:
    """``[k, T', *space', c]``: the kept states and points of the given trajectories."""
    u = field.read(samples, slice(None, None, time_step))
    spatial = (slice(None, None, space_step),) * len(field.spatial_shape)
    return u[(slice(None), slice(None), *spatial)]


def _samples(field: LazyField, samples) -> slice | np.ndarray:
    return slice(None) if samples is None else samples


def window_starts(n_states: int, k: int, m: int, stride: int = 1) -> np.ndarray:
    """Start indices of the windows of ``k + m`` consecutive states among ``n_states``."""
    if k < 1 or m < 1 or stride < 1:
        raise DataFormatError(f"need k, m, stride >= 1; got k={k}, m={m}, stride={stride}")
    if k + m > n_states:
        raise DataFormatError(
            f"a window of {k} input and {m} output states needs {k + m} states; "
            f"the trajectory has {n_states} after subsampling"
        )
    return np.arange(0, n_states - (k + m) + 1, stride)


def _with_params(sample: dict, params: np.ndarray | None, n_trajectories: int) -> dict:
    """Add ``params [n, p]`` to a sample whose pairs are grouped by trajectory, repeated
    for each of its ``len(x) / n`` pairs."""
    if params is None:
        return sample
    params = np.asarray(params, np.float32)
    if params.ndim != 2 or len(params) != n_trajectories:
        raise DataFormatError(
            f"params must be [n_trajectories={n_trajectories}, n_params]; got {params.shape}"
        )
    return {**sample, "params": np.repeat(params, len(sample["x"]) // n_trajectories, axis=0)}


def _stack_states(u: np.ndarray) -> np.ndarray:
    """``[N, k, *space, c] -> [N, *space, k c]`` (state-major channels)."""
    moved = np.moveaxis(u, 1, -2)  # [N, *space, k, c]
    return moved.reshape(*moved.shape[:-2], -1)


def k_in_m_out(
    field: LazyField,
    k: int = 1,
    m: int = 1,
    *,
    stride: int = 1,
    time_step: int = 1,
    space_step: int = 1,
    all_offsets: bool = False,
    samples=None,
    params: np.ndarray | None = None,
) -> Sample:
    """All ``k``-in / ``m``-out windows (see the module docstring)."""
    _checked(field, time_step, space_step)
    if all_offsets:  # every state read once, then one subsampled series per offset
        u = _read(field, _samples(field, samples), 1, space_step)
        series = [u[:, offset::time_step] for offset in range(time_step)]
    else:
        u = _read(field, _samples(field, samples), time_step, space_step)
        series = [u]
    windows = []  # per series: [n, W, k+m, ...]
    for kept in series:
        starts = window_starts(kept.shape[1], k, m, stride)
        windows.append(np.stack([kept[:, s : s + k + m] for s in starts], axis=1))
    windows = np.concatenate(windows, axis=1)
    windows = windows.reshape(-1, *windows.shape[2:])
    x = _stack_states(windows[:, :k])
    y = windows[:, k] if m == 1 else windows[:, k:]
    sample = _with_params({"x": x, "y": y}, params, len(u))
    return validate_sample(sample, source=f"windows of {field.name!r}")


def rollout_targets(
    field: LazyField,
    k: int = 1,
    horizon: int | None = None,
    *,
    time_step: int = 1,
    space_step: int = 1,
    samples=None,
    params: np.ndarray | None = None,
) -> Sample:
    """The first ``k`` kept states and the next ``horizon`` (default: all the rest)."""
    _checked(field, time_step, space_step)
    u = _read(field, _samples(field, samples), time_step, space_step)
    horizon = u.shape[1] - k if horizon is None else horizon
    window_starts(u.shape[1], k, horizon)  # validates the lengths
    x = _stack_states(u[:, :k])
    sample = _with_params({"x": x, "y": u[:, k : k + horizon]}, params, len(u))
    return validate_sample(sample, source=f"rollout of {field.name!r}")


def whole_trajectories(
    field: LazyField,
    n_states: int | None = None,
    *,
    time_step: int = 1,
    samples=None,
    params: np.ndarray | None = None,
) -> Sample:
    """The first ``n_states`` kept states of each trajectory (default: all) as ``y``, the
    first of them as ``x``."""
    _checked(field, time_step, 1)
    u = _read(field, _samples(field, samples), time_step, 1)
    if n_states is not None:
        window_starts(u.shape[1], 1, n_states - 1)  # validates the length
        u = u[:, :n_states]
    sample = _with_params({"x": u[:, 0], "y": u}, params, len(u))
    return validate_sample(sample, source=f"trajectories of {field.name!r}")


def all_to_all_pairs(
    field: LazyField,
    times: np.ndarray | None = None,
    *,
    time_scale: float = 1.0,
    time_step: int = 1,
    max_states: int | None = None,
    space_step: int = 1,
    samples=None,
    params: np.ndarray | None = None,
) -> Sample:
    """Poseidon's all2all pairs with lead times ``t = (t_j - t_i) / time_scale``.

    Args:
        field: a time-dependent field ``[n, T, *space, c]``.
        times: ``[T]`` the saved times (default: ``0, 1, ..., T - 1``).
        time_scale: divides lead times (Poseidon's fluids: snapshot index 0..20 over 20).
        time_step, max_states: keep states ``0, s, 2s, ...``, at most ``max_states`` of them
            (Poseidon: ``time_step = 2, max_states = 8``: snapshots 0, 2, ..., 14, 36 pairs).
    """
    _checked(field, time_step, space_step)
    n_times = field.shape[1]
    times = np.arange(n_times, dtype=np.float64) if times is None else np.asarray(times)
    if times.shape != (n_times,):
        raise DataFormatError(
            f"times has shape {times.shape}; field {field.name!r} has {n_times} states"
        )
    u = _read(field, _samples(field, samples), time_step, space_step)
    kept_times = times[::time_step]
    if max_states is not None:
        u, kept_times = u[:, :max_states], kept_times[:max_states]
    i, j = np.triu_indices(u.shape[1])  # i <= j
    x = u[:, i].reshape(-1, *u.shape[2:])
    y = u[:, j].reshape(-1, *u.shape[2:])
    lead = np.tile((kept_times[j] - kept_times[i]) / time_scale, u.shape[0]).astype(np.float32)
    sample = _with_params({"x": x, "y": y, "t": lead}, params, len(u))
    return validate_sample(sample, source=f"all2all of {field.name!r}")
