"""Phi-ROM's physics-informed objective: the solver's vector field shapes the latent dynamics.

For a snapshot with latent ``alpha [k]`` (from the model's latent memory), decoded field
``u_hat = D(X, alpha)`` on the solver grid ``X`` (``N`` points, ``C`` channels) and PDE
parameters ``mu``:

1. ``f = F(u_hat, mu)``: the solver's time derivative of the decoded field (an equation's
   vector field, or ``(step(u_hat) - u_hat) / dt`` of a stepper), ``[N, C]``;
2. on a random subset of ``M = floor(gamma N)`` points (one per snapshot, the same for every
   channel), the decoder's Jacobian ``J = d D(X_M, alpha) / d alpha`` by forward mode,
   flattened channel-major to ``[C M, k]``, and ``f`` on the same points ``[C M]``;
3. the latent velocity the solver asks for, ``alpha_dot* = J^+ f``: the least-squares
   solution by a reduced QR, ``J = Q R``, ``R alpha_dot* = Q^T f``;
4. ``L_dyn = mean ||psi(alpha, mu) - alpha_dot*|| / ||sg(alpha_dot*)||`` (per snapshot,
   ``sg``: stop-gradient) and ``L_rec = mean ||u_hat - u|| / ||u||`` (per snapshot and
   channel, over the grid);
5. ``loss = lambda L_rec + (1 - lambda) L_dyn``.

Gradients flow through the solver, the Jacobian and the QR. During warm-up (train steps
before ``warmup_steps``) ``L_dyn`` trains the dynamics network only: its gradient into the
decoder and the latents is gated off. NaN entries of ``L_dyn``'s gradient are zeroed, so
that a backward pass through a nearly rank-deficient ``J`` at some snapshot cannot poison
the update: at the decoded field ``u_hat`` (whose one decoding on the whole grid serves
both losses) and at the parameters and latents the Jacobian and ``psi`` see. (The
reference zeroes them in the parameters' gradient of ``L_dyn``, after summing over the
grid; a non-finite ``L_dyn`` itself stops training, see :mod:`opjax.training.loop`.)
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from opjax.models.phirom import PhiROM
from opjax.runs.reduced_order_inference import observed_points
from opjax.solvers.stepper import FieldRate
from opjax.training.objectives import Objective


def least_squares_velocity(jacobian: jax.Array, rate: jax.Array) -> jax.Array:
    """``J^+ f`` by a reduced QR: ``jacobian [m, k]`` (``m >= k``), ``rate [m]`` -> ``[k]``."""
    q, r = jnp.linalg.qr(jacobian, mode="reduced")
    return jax.scipy.linalg.solve_triangular(r, q.T @ rate, lower=False)


@jax.custom_vjp
def _nan_free_leaf(x):
    """The identity, whose cotangent has its NaN entries set to zero."""
    return x


def _nan_free_fwd(x):
    return x, None


def _nan_free_bwd(_, g):
    return (jnp.where(jnp.isnan(g), jnp.zeros_like(g), g),)


_nan_free_leaf.defvjp(_nan_free_fwd, _nan_free_bwd)


def _nan_free_gradient(tree):
    return jax.tree.map(_nan_free_leaf, tree)


def _gated(tree, scale):
    """``tree`` in value; its gradient times ``scale`` (0 or 1)."""
    sg = jax.lax.stop_gradient
    return jax.tree.map(lambda x: sg(x) + scale * (x - sg(x)), tree)


def physics_losses(
    model: PhiROM,
    variables: dict,
    fields: jax.Array,
    latents: jax.Array,
    coords: jax.Array,
    field_rate: FieldRate,
    subsets: jax.Array,
    params: jax.Array | None = None,
    dynamics_gate: jax.Array | float = 1.0,
    observed: jax.Array | None = None,
) -> dict[str, jax.Array]:
    """Phi-ROM's two losses per snapshot (see the module docstring), with given subsets.

    Args:
        fields: the data ``u [S, *space, C]`` of ``S`` snapshots.
        latents: their latents ``[S, k]``.
        coords: the solver grid ``[*space, d]``.
        subsets: the points ``J`` is taken at, ``[S, M]`` (flat grid indices).
        params: the PDE parameters ``[S, p]``, or None.
        dynamics_gate: 1: ``L_dyn`` trains the decoder and the latents too; 0: not.
        observed: the points ``L_rec`` sees, ``[S, M_obs]`` (sparse observations; the
            dynamics term still uses the whole grid), or None: all of them.

    Returns:
        ``{"reconstruction": [S, C], "dynamics": [S], "target": [S, k] (J^+ f),
        "velocity": [S, k] (psi), "rate": [S, N, C] (f on the whole grid)}``.
    """
    s, c = fields.shape[0], fields.shape[-1]
    d = coords.shape[-1]
    grid = jnp.broadcast_to(coords.reshape(1, -1, d), (s, coords.size // d, d))
    decode = lambda v, x, a: model.apply(v, x, a, method=PhiROM.decode)  # noqa: E731
    u_hat = decode(variables, grid, latents)  # [S, N, C]
    true = fields.reshape(s, -1, c)
    seen = u_hat
    if observed is not None:
        seen = jnp.take_along_axis(u_hat, observed[..., None], axis=1)
        true = jnp.take_along_axis(true, observed[..., None], axis=1)
    reconstruction = jnp.linalg.norm(seen - true, axis=1) / jnp.linalg.norm(true, axis=1)

    # L_dyn's path: NaN-free gradients, and none into the decoder and latents when gated.
    u_dyn = _gated(_nan_free_gradient(u_hat), dynamics_gate).reshape(fields.shape)
    dyn_variables = _nan_free_gradient(variables)
    decoder_variables = _gated(dyn_variables, dynamics_gate)
    alpha = _gated(_nan_free_gradient(latents), dynamics_gate)
    if params is None:
        rates = jax.vmap(lambda u: field_rate(u, None))(u_dyn)
    else:
        rates = jax.vmap(field_rate)(u_dyn, params)
    rates = rates.reshape(s, -1, c)

    def target_one(a, points, subset, rate):
        def decoded_at(a):  # [C M], channel-major
            return decode(decoder_variables, points[None], a[None])[0].T.reshape(-1)

        jacobian = jax.jacfwd(decoded_at)(a)  # [C M, k]
        return least_squares_velocity(jacobian, rate[subset].T.reshape(-1))

    points = jnp.take_along_axis(grid, subsets[..., None], axis=1)  # [S, M, d]
    target = jax.vmap(target_one)(alpha, points, subsets, rates)
    velocity = model.apply(dyn_variables, alpha, params, method=PhiROM.velocity)
    size = jnp.linalg.norm(jax.lax.stop_gradient(target), axis=-1)
    dynamics = jnp.linalg.norm(velocity - target, axis=-1) / size
    return {
        "reconstruction": reconstruction,
        "dynamics": dynamics,
        "target": target,
        "velocity": velocity,
        "rate": rates,
    }


def physics_informed_objective(
    model: PhiROM,
    coords: jax.Array,
    field_rate: FieldRate,
    *,
    loss_lambda: float = 0.5,
    gamma: float = 0.1,
    warmup_steps: int = 0,
    observed_fraction: float = 1.0,
) -> Objective:
    """Phi-ROM's objective over a batch of training trajectories.

    The batch holds ``y [B, T, *space, C]`` (the trajectories on the solver grid
    ``coords [*space, d]``), ``index [B]`` (their rows of the latent memory), optionally
    ``params [B, p]``, and ``weight [B]``, ``step`` (the train step's). Every snapshot of
    the batch is one term of both means; its subset of ``floor(gamma N)`` points is drawn
    from the step's key.

    With ``observed_fraction < 1`` the data is sparse: each snapshot is known at only
    ``floor(observed_fraction N)`` points, a random set fixed for the run (drawn from the
    snapshot's place in the latent memory), and ``L_rec`` sees only those.
    """
    n_points = coords.size // coords.shape[-1]
    m = math.floor(gamma * n_points)
    if not 0 < gamma <= 1 or m * model.out_channels < model.latent_dim:
        raise ValueError(
            f"gamma = {gamma} keeps {m} of {n_points} points: J^+ f needs at least "
            f"latent_dim = {model.latent_dim} rows (gamma in (0, 1])"
        )
    n_observed = math.floor(observed_fraction * n_points)
    if not 0 < observed_fraction <= 1 or n_observed < 1:
        raise ValueError(
            f"observed_fraction = {observed_fraction} keeps {n_observed} of {n_points} points"
        )

    def objective(variables, batch, rng):
        y = batch["y"]
        b, t = y.shape[:2]
        fields = y.reshape(b * t, *y.shape[2:])
        latents = variables["params"]["latent_memory"][batch["index"]].reshape(b * t, -1)
        params = batch.get("params")
        if params is not None:
            params = jnp.repeat(params, t, axis=0)
        # A uniformly random m-subset per snapshot: the m largest of n uniform draws.
        subsets = jax.lax.top_k(jax.random.uniform(rng, (b * t, n_points)), m)[1]
        gate = (batch["step"] >= warmup_steps).astype(fields.dtype)
        observed = None
        if n_observed < n_points:
            snapshots = (batch["index"][:, None] * model.n_times + jnp.arange(t)[None]).reshape(-1)
            observed = observed_points(snapshots, n_points, n_observed)
        losses = physics_losses(
            model, variables, fields, latents, coords, field_rate, subsets, params, gate, observed
        )
        weight = jnp.repeat(batch["weight"], t)
        total = jnp.maximum(jnp.sum(weight), 1.0)
        reconstruction = jnp.sum(jnp.mean(losses["reconstruction"], axis=-1) * weight) / total
        dynamics = jnp.sum(losses["dynamics"] * weight) / total
        finite = {
            "J^+ f (the latent velocity the solver asks for; is the decoder's Jacobian "
            "rank-deficient?)": jnp.all(jnp.isfinite(losses["target"])),
            "the solver's time derivative of the decoded field": jnp.all(
                jnp.isfinite(losses["rate"])
            ),
        }
        return loss_lambda * reconstruction + (1 - loss_lambda) * dynamics, {"finite": finite}

    return objective
