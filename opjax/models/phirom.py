"""Phi-ROM: a reduced-order model whose latent dynamics a differentiable solver shapes.

Hosseini Dashtbayaz, Salehipour, Butscher, Morris, "Physics-informed Reduced Order Modeling
of Time-dependent PDEs via Differentiable Solvers" (NeurIPS 2025, arXiv 2505.14595).

A field ``u(t, x)`` with ``C`` channels is represented by a latent code ``alpha(t) [k]``:

* the **decoder** ``D(x, alpha) [C]`` evaluates the field at any coordinates ``x [d]``
  (:class:`~opjax.models.layers.hyper_decoder.HyperDecoder`, ``decoder = "hyper"``, or
  :class:`~opjax.models.layers.sine_mlp_decoder.SineMLPDecoder`, ``"mlp"``), after mapping
  the coordinates from ``[coords_low, coords_high]`` to ``[-1, 1]`` and its output from
  unit scale to the field's (``field_std y + field_mean`` per channel), when given;
* the **dynamics** ``d alpha / dt = psi(alpha, mu)``
  (:class:`~opjax.models.layers.latent_dynamics.LatentDynamics`), with the PDE
  parameters normalised as ``(mu - params_mean) / params_std``; :func:`latent_rollout`
  integrates it with diffrax (Bosh3 at a constant step by default);
* an **auto-decoder** memory ``latent_memory [n_trajectories, n_times, k]`` (zeros at
  init): the latent of every training snapshot, trained with the networks. A new
  trajectory's initial latent is fitted to its initial condition instead.

``model.apply(variables, coords, latent)`` decodes: ``coords [batch, *points, d]``,
``latent [batch, k]`` -> ``[batch, *points, C]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import diffrax
import flax.linen as nn
import jax
import jax.numpy as jnp

from opjax.models.layers.hyper_decoder import HyperDecoder
from opjax.models.layers.latent_dynamics import LatentDynamics
from opjax.models.layers.pointwise import broadcast_channels
from opjax.models.layers.sine_mlp_decoder import SineMLPDecoder
from opjax.models.registry import HyperparameterError, register

DECODERS = ("hyper", "mlp")


@register("phirom")
class PhiROM(nn.Module):
    """Decoder, latent dynamics and latent memory of Phi-ROM (see the module docstring).

    Attributes:
        out_channels: field channels ``C``.
        latent_dim: ``k``.
        decoder: ``"mlp"`` or ``"hyper"``.
        decoder_width, decoder_depth: the decoder's width and layers.
        dynamics_width, dynamics_depth: the dynamics network's width and hidden layers.
        n_params: PDE parameters ``p`` the dynamics sees (0: none).
        n_trajectories, n_times: the shape of the training latent memory.
        coords_low, coords_high: the coordinate box mapped to ``[-1, 1]`` (empty: none).
        params_mean, params_std: the PDE parameters' normalisation (empty: none).
        field_mean, field_std: per channel, the decoder's output ``y`` becomes the field
            ``u = field_std y + field_mean`` (empty: ``u = y``).
        ode_solver: the diffrax solver class that integrates the dynamics by default.
    """

    out_channels: int
    latent_dim: int = 4
    decoder: str = "mlp"
    decoder_width: int = 32
    decoder_depth: int = 4
    dynamics_width: int = 64
    dynamics_depth: int = 4
    n_params: int = 0
    n_trajectories: int = 1
    n_times: int = 1
    coords_low: Sequence[float] = ()
    coords_high: Sequence[float] = ()
    params_mean: Sequence[float] = ()
    params_std: Sequence[float] = ()
    field_mean: Sequence[float] = ()
    field_std: Sequence[float] = ()
    ode_solver: str = "Bosh3"

    def __post_init__(self):
        super().__post_init__()
        solver = getattr(diffrax, self.ode_solver, None)
        if not (isinstance(solver, type) and issubclass(solver, diffrax.AbstractSolver)):
            raise HyperparameterError(
                f"model 'phirom': ode_solver {self.ode_solver!r} is not a diffrax solver"
            )
        if self.decoder not in DECODERS:
            raise HyperparameterError(
                f"model 'phirom': decoder must be one of {DECODERS}; got {self.decoder!r}"
            )
        if self.decoder == "hyper" and self.decoder_width % 2:
            raise HyperparameterError(
                f"model 'phirom': the hyper decoder's width must be even; got {self.decoder_width}"
            )
        self._check_paired("coords_low", "coords_high", None, "one bound per axis each")
        self._check_paired(
            "field_mean",
            "field_std",
            self.out_channels,
            f"one value per channel ({self.out_channels})",
        )
        self._check_paired(
            "params_mean",
            "params_std",
            self.n_params,
            f"one value per PDE parameter ({self.n_params})",
        )

    def _check_paired(self, first: str, second: str, count: int | None, need: str) -> None:
        """Two hyperparameters of one value each per axis, channel or parameter (``count``
        of them, when given), or both empty."""
        a, b = getattr(self, first), getattr(self, second)
        if len(a) != len(b) or (count is not None and a and len(a) != count):
            raise HyperparameterError(f"model 'phirom': {first} {a} and {second} {b} need {need}")

    def setup(self):
        decoder = HyperDecoder if self.decoder == "hyper" else SineMLPDecoder
        self.decoder_net = decoder(self.out_channels, self.decoder_width, self.decoder_depth)
        self.dynamics = LatentDynamics(self.dynamics_width, self.dynamics_depth)
        self.latent_memory = self.param(
            "latent_memory",
            nn.initializers.zeros,
            (self.n_trajectories, self.n_times, self.latent_dim),
        )

    def init_inputs(self) -> tuple[jax.Array, jax.Array, jax.Array | None]:
        """Zero ``(coords [1, 1, d], latent [1, k], z [1, p] or None)`` for ``model.init``
        (``d``: the length of ``coords_low``, else 1)."""
        coords = jnp.zeros((1, 1, len(self.coords_low) or 1))
        z = jnp.zeros((1, self.n_params)) if self.n_params else None
        return coords, jnp.zeros((1, self.latent_dim)), z

    def __call__(self, coords: jax.Array, latent: jax.Array, z=None) -> jax.Array:
        """Decode (:meth:`decode`); ``z`` is not seen by the decoder. ``model.init`` runs
        the dynamics network once too, so that its parameters are created."""
        if self.is_initializing():
            if z is None and self.n_params:
                z = jnp.zeros((*latent.shape[:-1], self.n_params), latent.dtype)
            self.velocity(latent, z)
        return self.decode(coords, latent)

    def decode(self, coords: jax.Array, latent: jax.Array) -> jax.Array:
        """``D(x, alpha)``: ``coords [batch, *points, d]``, ``latent [batch, k]`` ->
        ``[batch, *points, C]``."""
        if coords.ndim < 3 or latent.shape != (coords.shape[0], self.latent_dim):
            raise ValueError(
                f"PhiROM decodes coords [batch, *points, d] with latents [batch, "
                f"{self.latent_dim}]; got {coords.shape} and {latent.shape}"
            )
        batch, points, d = coords.shape[0], coords.shape[1:-1], coords.shape[-1]
        if self.coords_low and len(self.coords_low) != d:
            raise ValueError(f"PhiROM was built for {len(self.coords_low)}D coordinates; got {d}D")
        flat = coords.reshape(batch, -1, d)
        if self.coords_low:
            low = broadcast_channels(jnp.asarray(self.coords_low, flat.dtype), flat.ndim)
            high = broadcast_channels(jnp.asarray(self.coords_high, flat.dtype), flat.ndim)
            flat = 2 * (flat - low) / (high - low) - 1
        y = self.decoder_net(flat, latent)
        if self.field_mean:
            std = broadcast_channels(jnp.asarray(self.field_std, y.dtype), y.ndim)
            y = std * y + broadcast_channels(jnp.asarray(self.field_mean, y.dtype), y.ndim)
        return y.reshape(batch, *points, self.out_channels)

    def velocity(self, latent: jax.Array, z: jax.Array | None = None) -> jax.Array:
        """``psi(alpha, mu)``: ``latent [..., k]``, ``z [..., n_params]`` -> ``[..., k]``."""
        if (z is None) != (self.n_params == 0) or (z is not None and z.shape[-1] != self.n_params):
            given = None if z is None else z.shape
            raise ValueError(f"PhiROM takes {self.n_params} PDE parameters; got z of shape {given}")
        if z is not None and self.params_mean:
            mean = broadcast_channels(jnp.asarray(self.params_mean, z.dtype), z.ndim)
            z = (z - mean) / broadcast_channels(jnp.asarray(self.params_std, z.dtype), z.ndim)
        return self.dynamics(latent, z)


def latent_step(
    model: PhiROM, variables: dict, latent: jax.Array, dt: jax.Array, z: jax.Array | None = None
) -> jax.Array:
    """One step of the model's ``ode_solver`` of size ``dt`` from ``latent [batch, k]``
    (``z [batch, p]``): ``[batch, k]``, as :func:`latent_rollout` takes at the data step."""
    solver = getattr(diffrax, model.ode_solver)()
    term = diffrax.ODETerm(
        lambda t, a, z: model.apply(variables, a, z, method=PhiROM.velocity)  # noqa: ARG005
    )
    state = solver.init(term, 0.0, dt, latent, z)
    return solver.step(term, 0.0, dt, latent, z, state, made_jump=False)[0]


def latent_rollout(
    model: PhiROM,
    variables: dict,
    latent0: jax.Array,
    times: jax.Array,
    z: jax.Array | None = None,
    *,
    solver: diffrax.AbstractSolver | None = None,
    stepsize_controller: diffrax.AbstractStepSizeController | None = None,
    dt0: float | None = None,
    adjoint: diffrax.AbstractAdjoint | None = None,
    max_steps: int = 4096,
) -> jax.Array:
    """Integrate ``d alpha / dt = psi(alpha, mu)`` from ``latent0 [batch, k]`` at
    ``times[0]``; the latents at ``times [T]`` (increasing), ``[batch, T, k]``.

    Defaults: the model's ``ode_solver`` (Bosh3) at the constant step ``times[1] - times[0]``
    (Phi-ROM's choice: the data step), or ``dt0``; an adaptive ``stepsize_controller``
    (e.g. ``diffrax.PIDController(rtol=1e-3, atol=1e-6)``) chooses its own steps. ``adjoint``
    defaults to diffrax's recursive checkpointing (reverse mode); pass
    ``diffrax.ForwardMode()`` for ``jax.jvp`` / ``jax.jacfwd`` through the rollout.
    """
    times = jnp.asarray(times, latent0.dtype)
    if times.ndim != 1 or times.shape[0] < 2:
        raise ValueError(f"latent_rollout needs at least two times [T]; got {times.shape}")
    solver = solver or getattr(diffrax, model.ode_solver)()
    if stepsize_controller is None:
        stepsize_controller = diffrax.ConstantStepSize()
        dt0 = dt0 or times[1] - times[0]

    def vector_field(t, latent, z):
        zz = None if z is None else z[None]
        return model.apply(variables, latent[None], zz, method=PhiROM.velocity)[0]

    def solve_one(latent, z):
        solution = diffrax.diffeqsolve(
            diffrax.ODETerm(vector_field),
            solver,
            t0=times[0],
            t1=times[-1],
            dt0=dt0,
            y0=latent,
            args=z,
            saveat=diffrax.SaveAt(ts=times),
            stepsize_controller=stepsize_controller,
            adjoint=adjoint or diffrax.RecursiveCheckpointAdjoint(),
            max_steps=max_steps,
        )
        return solution.ys

    return jax.vmap(solve_one)(latent0, z)
