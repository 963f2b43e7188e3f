"""What a dataset recipe's ``problem`` builds: how to draw one sample, and the layout.

A problem module (one per file in :mod:`opjax.data.generation.problems`) has ``DEFAULTS``,
its parameters with their default values, optionally ``CHOICES``, the parameters restricted
to a few values (``{name: (value, ...)}``, checked when a recipe is read), and
``build(parameters) -> Problem``. The writer draws samples in chunks with
``jit(vmap(problem.sample))`` over per-sample keys.

The rest of this module is what the problem modules share: saved times, periodic grids,
initial conditions, and trajectories solved by ETDRK4 with the layout they are stored in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from opjax.data.mesh_data import DatasetMesh
from opjax.solvers import PeriodicGrid, gaussian_random_field
from opjax.solvers.simulate import simulate
from opjax.solvers.stepper import FieldRate, Stepper, advance

#: The ``scheme`` of a problem solved by :func:`trajectory`.
ETDRK4_SCHEME = "ETDRK4 (Cox-Matthews, Kassam-Trefethen contour), 2/3 dealiasing"


@dataclasses.dataclass(frozen=True)
class Problem:
    """One dataset generator.

    Attributes:
        sample: ``key -> {"fields/<name>": array, "params/<name>": scalar, ...}`` for one
            sample; every entry becomes a dataset ``[n, *shape]`` of the HDF5 file (see
            :mod:`opjax.data.formats.opjax_h5`). Pure, so it can be jitted and vmapped.
        coordinates: static grid points per axis name, ``[n_points]`` each.
        times: the saved times ``[n_times]``, or None for a steady problem.
        time_dependent: the field names whose first axis is time.
        descriptions: one line per field (stored as its ``description`` attribute).
        solver: solver settings stored as attributes of ``/solver``.
        swept: ``sample`` is ``(key, fraction) -> ...``, ``fraction = i / (n - 1)`` the
            place of sample ``i`` in its split of ``n`` (0 for one sample): a problem whose
            parameter runs over a range, e.g. Phi-ROM's Burgers ``mu``.
        field_rate: ``(u [*space, C], params [p] or None) -> du/dt [*space, C]``, the
            solver's time derivative of one stored state (channels-last), for objectives
            with the solver in the loss; None when the problem has none.
        rate_params: the names of the per-sample ``params`` ``field_rate`` and
            ``equation`` take, in order.
        equation: ``params [p] or None -> equation``, the equation a sample solves
            (``params`` as for ``field_rate``), when its states are stored on the solver
            grid; None otherwise. With ``dt`` it makes the :meth:`stepper`.
        dt: the solver step the data were generated with.
        mesh: for a problem on a triangle mesh, the finite-element space whose DOF vectors
            its fields are (``[n_dofs]`` per sample; stored as ``/mesh``); None on a grid.
    """

    sample: Callable[..., dict[str, jax.Array]]
    coordinates: dict[str, np.ndarray]
    times: np.ndarray | None
    time_dependent: frozenset[str]
    descriptions: dict[str, str]
    solver: dict[str, float | int | str]
    swept: bool = False
    field_rate: FieldRate | None = None
    rate_params: tuple[str, ...] = ()
    equation: Callable[[jax.Array | None], object] | None = None
    dt: float | None = None
    mesh: DatasetMesh | None = None

    def stepper(
        self, substeps: int | None = None, proportion: float = 1.0, intervals: int = 1
    ) -> Stepper:
        """``(u [*space, C], params [p] or None) -> u_next [*space, C]``: the solver's map
        from one saved state to the one ``intervals`` saved states later (one-channel
        states; see :func:`~opjax.solvers.stepper.advance`), in ``substeps`` solver steps
        (default: the data's own step, ``intervals * interval / dt`` of them).

        A coarse solver (for a learned correction) takes fewer ``substeps``, or advances
        only ``proportion`` of the interval (APEBench's ``coarse_proportion``: the physics
        is under-resolved in time, which fewer steps of an exact linear integrator are not).

        Raises:
            ValueError: the problem has no equation on the stored grid, its saved times
                are not equally spaced, or ``substeps < 1``.
        """
        interval = self.saved_interval() * intervals
        if self.equation is None or self.dt is None:
            raise ValueError("the problem's states are not stored on its solver's grid")
        if substeps is None:
            substeps = max(round(interval / self.dt), 1)
        if substeps < 1 or not 0 < proportion <= 1 or intervals < 1:
            raise ValueError(
                "need substeps >= 1, 0 < proportion <= 1 and intervals >= 1; got "
                f"{substeps}, {proportion}, {intervals}"
            )
        equation_of, duration = self.equation, interval * proportion

        def step(u, params):
            return advance(equation_of(params), u[..., 0], duration, substeps)[..., None]

        return step

    def check_rate_params(self, given: Sequence[str], name: str) -> None:
        """Check that the per-sample parameters ``given`` are the solver's, in order.

        Raises:
            ValueError: naming the problem ``name``, its parameters and those missing.
        """
        if tuple(given) != self.rate_params:
            missing = [p for p in self.rate_params if p not in given]
            raise ValueError(
                f"the solver of {name!r} takes the PDE parameters {list(self.rate_params)}; "
                f"data.window.params is {list(given)}"
                + (f" (missing {missing})" if missing else "")
            )

    def saved_interval(self) -> float:
        """The time between consecutive saved states.

        Raises:
            ValueError: the problem is steady or its saved times are not equally spaced.
        """
        if self.times is None or len(self.times) < 2:
            raise ValueError("the problem saves no trajectory")
        gaps = np.diff(self.times)
        if not np.allclose(gaps, gaps[0], rtol=1e-9, atol=0.0):
            raise ValueError("the problem's saved times are not equally spaced")
        return float(gaps[0])


def trajectory_problem(
    sample: Callable[[jax.Array], dict[str, jax.Array]],
    field: str,
    description: str,
    *,
    coordinates: dict[str, np.ndarray],
    times: np.ndarray,
    solver: dict[str, float | int | str],
) -> Problem:
    """A :class:`Problem` with one field, ``field [n_times, *space]``, saved at ``times``."""
    return Problem(
        sample=sample,
        coordinates=coordinates,
        times=times,
        time_dependent=frozenset({field}),
        descriptions={field: description},
        solver=solver,
    )


def initial_value_problem(
    equation,
    initial_condition: Callable[[jax.Array, jnp.dtype], jax.Array],
    field: str,
    description: str,
    *,
    params: dict[str, float],
    times: np.ndarray,
    dt: float,
    stride: int = 1,
    burn_in: float = 0.0,
    coordinates: dict[str, np.ndarray],
    solver: dict[str, float | int | str],
) -> Problem:
    """A :class:`Problem` whose one field, ``field [n_times, *space]``, is the ETDRK4
    trajectory of ``equation`` from a random initial condition.

    A sample draws ``u0 = initial_condition(key, dtype)`` on the solver grid (``dtype`` the
    default float type), solves ``burn_in`` time units from it (:func:`burned_in`), then
    keeps the states at ``times`` (the first being that state) on every ``stride``-th point
    (:func:`trajectory`, step ``dt``). Its ``params/<name>`` are ``params``, the same for
    every sample. When the states are stored on the solver grid (``stride = 1``), the
    problem's ``field_rate`` is the equation's vector field and its ``equation`` (and so
    its :meth:`Problem.stepper`) the equation.
    """

    def sample(key):
        dtype = jnp.result_type(float)
        u0 = burned_in(equation, initial_condition(key, dtype), burn_in, dt)
        return {
            f"fields/{field}": trajectory(equation, u0, times, dt, stride),
            **{f"params/{name}": jnp.asarray(value, dtype) for name, value in params.items()},
        }

    problem = trajectory_problem(
        sample, field, description, coordinates=coordinates, times=times, solver=solver
    )
    if stride != 1:
        return problem
    return dataclasses.replace(
        problem, field_rate=state_rate(equation), equation=lambda params: equation, dt=dt
    )


def state_rate(equation) -> FieldRate:
    """A :class:`Problem`'s ``field_rate`` for one stored single-channel state
    ``[*space, 1]`` of an equation with no per-sample parameters: its vector field."""
    return equation_rate(lambda params: equation)


def equation_rate(equation_of: Callable) -> FieldRate:
    """A :class:`Problem`'s ``field_rate`` for one stored single-channel state
    ``[*space, 1]``: the vector field of ``equation_of(params)``."""

    def field_rate(u, params):
        return equation_of(params).vector_field(0.0, u[..., 0])[..., None]

    return field_rate


def etdrk4_solver(dt: float, solver_points: int) -> dict[str, float | int | str]:
    """The ``solver`` settings of a problem solved by :func:`trajectory` with step ``dt`` on
    ``solver_points`` points per axis."""
    return {"scheme": ETDRK4_SCHEME, "dt": dt, "solver_points": solver_points}


def saved_times(t_end: float, n_times: int, t_start: float = 0.0) -> np.ndarray:
    """``n_times`` equally spaced times from ``t_start`` to ``t_end``, both included."""
    if n_times < 2 or t_end <= t_start:
        raise ValueError(f"need n_times >= 2 and t_end > {t_start}; got {n_times}, {t_end}")
    return np.linspace(t_start, t_end, n_times)


def spaced_times(t_start: float, spacing: float, n_times: int) -> np.ndarray:
    """``[n_times]``: ``t_start + spacing * k`` for ``k = 0 .. n_times - 1``."""
    return t_start + spacing * np.arange(n_times)


def periodic_coordinates(
    points: int, domain_length: float, axes: Sequence[str]
) -> dict[str, np.ndarray]:
    """``{axis: x}`` for each of ``axes``: the ``points`` grid points ``x_j = j L / points``
    (``j = 0 .. points - 1``) of the periodic interval ``[0, L)``, ``L = domain_length``."""
    x = np.arange(points) * (domain_length / points)
    return {axis: x for axis in axes}


def subsample_stride(solver_points: int, points: int) -> int:
    """How many solver points per stored point (the solver grid must refine the stored one)."""
    if solver_points % points:
        raise ValueError(
            f"parameters.solver_points = {solver_points} is not a multiple of "
            f"parameters.points = {points}"
        )
    return solver_points // points


def periodic_solver_grid(p: dict, rank: int) -> tuple[PeriodicGrid, int]:
    """The grid a problem is solved on, ``p["solver_points"]`` points along each of ``rank``
    periodic axes of length ``p["domain_length"]``, and the :func:`subsample_stride` from it
    to the ``p["points"]`` stored per axis."""
    n = p["solver_points"]
    return PeriodicGrid((n,) * rank, p["domain_length"]), subsample_stride(n, p["points"])


def standardised_random_field(
    key: jax.Array, grid: PeriodicGrid, alpha: float, tau: float, std: float, dtype
) -> jax.Array:
    """``[*grid.shape]``: a Gaussian random field ``psi`` with covariance
    ``(-Laplacian + tau^2)^(-alpha)`` (:func:`~opjax.solvers.gaussian_random_field`) rescaled
    to sample standard deviation ``std``: ``std * psi / std(psi)``."""
    psi = gaussian_random_field(key, grid, alpha, tau, 1.0, dtype)
    return std * psi / jnp.std(psi)


def trajectory(equation, u0: jax.Array, times: np.ndarray, dt: float, stride: int = 1):
    """``[n_times, *space]``: ``u0`` (at ``times[0]``) and the solutions at the other times
    by the equation's default solver (ETDRK4 for a semilinear equation, forward Euler for an
    explicit one), every ``stride``-th grid point along each axis."""
    later = simulate(equation, u0, times[1:], dt=dt, t0=float(times[0]))
    u = jnp.concatenate([u0[None], later], axis=0)
    index = (slice(None),) + (slice(None, None, stride),) * (u.ndim - 1)
    return u[index]


def burned_in(equation, u0: jax.Array, duration: float, dt: float) -> jax.Array:
    """``[*space]``: the ETDRK4 solution ``duration`` after ``u0`` (``u0`` itself when
    ``duration`` is 0), so that saving starts from a developed state."""
    if duration > 0:
        return trajectory(equation, u0, np.array([0.0, duration]), dt)[-1]
    return u0
