"""PDE-Refiner (Lippe, Veeling, Perdikaris, Turner, Brandstetter, "PDE-Refiner: Achieving
Accurate Long Rollouts with Neural PDE Solvers", NeurIPS 2023): a one-step model that
refines its own prediction in ``K`` denoising steps of decreasing noise, channels-last.

One backbone network ``NN`` (any registered model that takes a time input ``t``; default the
modern U-Net) sees the previous state(s) ``x [b, *space, k c]`` and an estimate of the next
state ``[b, *space, c]`` concatenated on the channels, and the refinement step as its time
input. Everything happens in the *target space*: the next state ``u``, or with
``predict_difference`` the scaled difference ``(u - x_last) / difference_weight``
(``x_last`` the newest input state), mapped back at the end.

``schedule = "paper"`` (the paper's Algorithm 1), noise stds ``sigma_k = min_noise_std^(k/K)``:

    u^0 = NN([x, 0], t = 0)                                    (step 0: predict u directly)
    for k = 1..K:  v = u^(k-1) + sigma_k eps,  eps ~ N(0, I)
                   u^k = v - sigma_k NN([x, v], t = k 1000 / K)   (NN predicts the noise)

Training draws ``k ~ U{0..K}`` per sample; the loss is the MSE to ``u`` at ``k = 0`` and the
MSE between ``NN([x, u + sigma_k eps], k)`` and ``eps`` at ``k >= 1`` (the ground truth is
noised, never the model's estimate).

``schedule = "pdearena"`` (the authors' code, ``pdearena/models/pderefiner.py``): a DDPM
(Ho et al. 2020; diffusers' ``DDPMScheduler`` with ``v_prediction``, ``clip_sample=False``,
``variance_type="fixed_small"``) with ``K + 1`` timesteps ``s = 0..K`` whose *variances*
are ``beta_s = min_noise_std^((K - s) / K)`` (so ``beta_K = 1``: timestep ``K`` is pure
noise) and ``abar_s = prod_{j <= s} (1 - beta_j)``:

    training:   y_s = sqrt(abar_s) u + sqrt(1 - abar_s) eps,
                loss = MSE(NN([x, y_s], t = s 1000 / K), sqrt(abar_s) eps - sqrt(1 - abar_s) u)
    inference:  y_K ~ N(0, I); for s = K..0:
                  u_hat = sqrt(abar_s) y_s - sqrt(1 - abar_s) NN([x, y_s], t = s 1000 / K)
                  y_(s-1) = sqrt(abar_(s-1)) beta'_s / (1 - abar_s) u_hat
                            + sqrt(alpha'_s) (1 - abar_(s-1)) / (1 - abar_s) y_s
                            + sqrt((1 - abar_(s-1)) / (1 - abar_s) beta'_s) eps   (s > 0)
                with abar_(-1) = 1, alpha'_s = abar_s / abar_(s-1), beta'_s = 1 - alpha'_s;
                the result is u_hat at s = 0.

The effective noise std ``sqrt(1 - abar_s)`` for ``K = 3``, ``min_noise_std = 4e-7`` is
about 1.0, 8.6e-2, 7.4e-3, 6.3e-4 at ``s = 3, 2, 1, 0``: the paper schedule with
``min_noise_std = sqrt(4e-7)`` has nearly the same levels. The first inference step of this
variant sees pure noise and (as ``abar_K = 0``) predicts ``-u``: it is the paper's step 0.
The schedule constants are computed in float64 (diffusers computes them in float32: the
smallest variance then differs by a few per cent).

Inference (``__call__``) costs ``K + 1`` backbone calls. Its noise comes from the flax RNG
stream ``"refine"`` (``model.apply(params, x, rngs={"refine": key})``); without one it uses
the fixed key ``PRNGKey(0)``, so evaluation and rollouts are deterministic (every call then
draws the same noise). :func:`refinement_samples` draws several refinements for an
uncertainty estimate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax.core import FrozenDict

from opjax.models.registry import build_model, register

SCHEDULES = ("paper", "pdearena")
RNG_STREAM = "refine"
TIME_RANGE = 1000.0  # the step index k in 0..K enters the backbone as t = k * 1000 / K


def _frozen(value: Any) -> Any:
    """Hashable copy of nested hyperparameters: mappings -> FrozenDict, lists -> tuples."""
    if isinstance(value, Mapping):
        return FrozenDict({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


def paper_noise_stds(num_refinement_steps: int, min_noise_std: float) -> np.ndarray:
    """``[K + 1]`` float64: ``sigma_0 = 0`` (step 0 is not noised), ``sigma_k =
    min_noise_std^(k / K)`` for ``k = 1..K``."""
    k = np.arange(num_refinement_steps + 1)
    stds = min_noise_std ** (k / max(num_refinement_steps, 1))
    stds[0] = 0.0
    return stds


def ddpm_alphas_cumprod(num_refinement_steps: int, min_noise_std: float) -> np.ndarray:
    """``[K + 1]`` float64: ``abar_s = prod_{j <= s} (1 - min_noise_std^((K - j) / K))``,
    pdearena's DDPM schedule (``abar_K = 0``)."""
    K = num_refinement_steps
    betas = min_noise_std ** ((K - np.arange(K + 1)) / K)
    return np.cumprod(1.0 - betas)


def ddpm_noise_stds(num_refinement_steps: int, min_noise_std: float) -> np.ndarray:
    """``[K + 1]``: the effective noise std ``sqrt(1 - abar_s)`` of each DDPM timestep."""
    return np.sqrt(1.0 - ddpm_alphas_cumprod(num_refinement_steps, min_noise_std))


def ddpm_step(
    alphas_cumprod: np.ndarray, s: int, y: jax.Array, v: jax.Array, noise: jax.Array
) -> jax.Array:
    """One reverse DDPM step from timestep ``s`` to ``s - 1`` with a v-prediction ``v``
    (diffusers' ``DDPMScheduler.step``, ``variance_type="fixed_small"``, no clipping; see the
    module docstring); at ``s = 0`` it returns the estimate ``u_hat`` and ignores ``noise``."""
    a = float(alphas_cumprod[s])
    a_prev = float(alphas_cumprod[s - 1]) if s > 0 else 1.0
    u_hat = math.sqrt(a) * y - math.sqrt(1.0 - a) * v
    alpha = a / a_prev
    beta = 1.0 - alpha
    mean = (math.sqrt(a_prev) * beta / (1.0 - a)) * u_hat + (
        math.sqrt(alpha) * (1.0 - a_prev) / (1.0 - a)
    ) * y
    if s == 0:
        return mean
    variance = max((1.0 - a_prev) / (1.0 - a) * beta, 1e-20)
    return mean + math.sqrt(variance) * noise


@register("refiner")
class PDERefiner(nn.Module):
    """PDE-Refiner ``[batch, *space, in_channels] -> [batch, *space, out_channels]``.

    The backbone is ``build_model(backbone, {**backbone_hparams, "in_channels":
    in_channels + out_channels, "out_channels": out_channels})``. pdearena's KS model is
    ``PDERefiner(in_channels=1, out_channels=1, backbone_hparams={"n_condition_params": 2,
    "padding_mode": "circular", "periodic_upsample": False}, schedule="pdearena",
    predict_difference=True, difference_weight=0.3)`` with ``K = 3``.

    Attributes:
        in_channels: channels of the input, ``k`` states of ``out_channels`` each.
        out_channels: channels of the predicted state.
        backbone: registered name of the backbone; it must take a time input ``t``.
        backbone_hparams: the backbone's other hyperparameters (a mapping; stored frozen).
        num_refinement_steps: ``K``; inference makes ``K + 1`` backbone calls.
        min_noise_std: the smallest noise level: the std of step ``K`` (``"paper"``), or the
            smallest DDPM variance (``"pdearena"``).
        schedule: ``"paper"`` or ``"pdearena"`` (see the module docstring).
        predict_difference: work on ``(u - x_last) / difference_weight`` instead of ``u``.
        difference_weight: the scale of the difference (pdearena's KS: 0.3).
    """

    in_channels: int
    out_channels: int
    backbone: str = "unet"
    backbone_hparams: Mapping[str, Any] = FrozenDict()
    num_refinement_steps: int = 3
    min_noise_std: float = 4e-7
    schedule: str = "paper"
    predict_difference: bool = False
    difference_weight: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "backbone_hparams", _frozen(self.backbone_hparams))
        super().__post_init__()

    def setup(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule={self.schedule!r}; expected one of {SCHEDULES}")
        K = self.num_refinement_steps
        if K < 0 or (self.schedule == "pdearena" and K < 1):
            raise ValueError(
                f"num_refinement_steps={K}; need >= 0 (>= 1 for the 'pdearena' schedule)"
            )
        if not 0.0 < self.min_noise_std < 1.0:
            raise ValueError(f"min_noise_std={self.min_noise_std}; expected 0 < value < 1")
        if self.predict_difference and self.in_channels % self.out_channels:
            raise ValueError(
                f"predict_difference needs whole input states: in_channels={self.in_channels} "
                f"is not a multiple of out_channels={self.out_channels}"
            )
        given = {"in_channels", "out_channels"} & set(self.backbone_hparams)
        if given:
            raise ValueError(
                f"backbone_hparams sets {sorted(given)}; the refiner derives them "
                "(in: in_channels + out_channels, out: out_channels)"
            )
        hparams = {
            **self.backbone_hparams,
            "in_channels": self.in_channels + self.out_channels,
            "out_channels": self.out_channels,
        }
        net = build_model(self.backbone, hparams)
        if not getattr(net, "time_conditioning", True):
            raise ValueError(
                f"the {self.backbone!r} backbone has time_conditioning=False; the refiner "
                "conditions it on the refinement step"
            )
        self.net = net

    @property
    def _time_per_step(self) -> float:
        return TIME_RANGE / max(self.num_refinement_steps, 1)

    def _backbone(self, x, estimate, step, train, z):
        """``NN([x, estimate], t = step * 1000 / K)``; ``step`` a number or ``[batch]``."""
        t = jnp.broadcast_to(jnp.asarray(step, x.dtype) * self._time_per_step, x.shape[:1])
        extra = {} if z is None else {"z": z}
        return self.net(jnp.concatenate([x, estimate], axis=-1), t=t, train=train, **extra)

    def _check_input(self, x):
        if x.ndim < 3 or x.shape[-1] != self.in_channels:
            raise ValueError(
                f"PDERefiner expects input [batch, *space, {self.in_channels}]; got {x.shape}"
            )

    def to_target_space(self, x: jax.Array, y: jax.Array) -> jax.Array:
        """The quantity refined: ``y``, or ``(y - x_last) / difference_weight``."""
        if not self.predict_difference:
            return y
        return (y - x[..., -self.out_channels :]) / self.difference_weight

    def from_target_space(self, x: jax.Array, y: jax.Array) -> jax.Array:
        """Inverse of :meth:`to_target_space`."""
        if not self.predict_difference:
            return y
        return x[..., -self.out_channels :] + self.difference_weight * y

    def __call__(
        self,
        x: jax.Array,
        t: jax.Array | None = None,
        train: bool = False,
        *,
        z: jax.Array | None = None,
    ) -> jax.Array:
        """Predict the next state with ``K`` refinement steps (``K + 1`` backbone calls).

        Args:
            x: previous state(s) ``[batch, *space, in_channels]``.
            t: must be None: the backbone's time input is the refinement step.
            train: passed to the backbone.
            z: PDE parameters, passed to the backbone (e.g. the U-Net's ``z``).

        Returns:
            ``[batch, *space, out_channels]``.
        """
        if t is not None:
            raise ValueError(
                "PDERefiner takes no lead time t: its backbone's time input is the refinement step"
            )
        self._check_input(x)
        key = self.make_rng(RNG_STREAM) if self.has_rng(RNG_STREAM) else jax.random.PRNGKey(0)
        shape = (*x.shape[:-1], self.out_channels)
        if self.schedule == "paper":
            y = self._refine_paper(x, shape, key, train, z)
        else:
            y = self._refine_ddpm(x, shape, key, train, z)
        return self.from_target_space(x, y)

    def _refine_paper(self, x, shape, key, train, z):
        stds = paper_noise_stds(self.num_refinement_steps, self.min_noise_std)
        u = self._backbone(x, jnp.zeros(shape, x.dtype), 0, train, z)
        for k in range(1, self.num_refinement_steps + 1):
            noise = jax.random.normal(jax.random.fold_in(key, k), shape, x.dtype)
            std = float(stds[k])
            noised = u + std * noise
            u = noised - std * self._backbone(x, noised, k, train, z)
        return u

    def _refine_ddpm(self, x, shape, key, train, z):
        K = self.num_refinement_steps
        abar = ddpm_alphas_cumprod(K, self.min_noise_std)
        y = jax.random.normal(jax.random.fold_in(key, 0), shape, x.dtype)
        for s in range(K, -1, -1):
            v = self._backbone(x, y, s, train, z)
            noise = jax.random.normal(jax.random.fold_in(key, K + 1 - s), shape, x.dtype)
            y = ddpm_step(abar, s, y, v, noise)
        return y

    def denoising_pair(
        self,
        x: jax.Array,
        y: jax.Array,
        step: jax.Array,
        noise: jax.Array,
        train: bool = True,
        *,
        z: jax.Array | None = None,
    ) -> tuple[jax.Array, jax.Array]:
        """One training example per sample: the backbone's prediction and its target.

        Args:
            x: previous state(s) ``[batch, *space, in_channels]``.
            y: the true next state ``[batch, *space, out_channels]``.
            step: ``[batch]`` integers in ``0..K``: the refinement step (``"paper"``) or the
                DDPM timestep (``"pdearena"``).
            noise: ``eps [batch, *space, out_channels]``, standard normal.

        Returns:
            ``(prediction, target)``, both ``[batch, *space, out_channels]``: the target is
            the (scaled difference) state at step 0 and ``eps`` at steps ``k >= 1``
            (``"paper"``), or the velocity ``sqrt(abar) eps - sqrt(1 - abar) u``
            (``"pdearena"``).
        """
        self._check_input(x)
        u = self.to_target_space(x, y)
        expand = (slice(None),) + (None,) * (u.ndim - 1)
        if self.schedule == "paper":
            stds = paper_noise_stds(self.num_refinement_steps, self.min_noise_std)
            std = jnp.asarray(stds, u.dtype)[step][expand]
            first = (step == 0)[expand]
            estimate = jnp.where(first, 0.0, u + std * noise)
            target = jnp.where(first, u, noise)
        else:
            # sqrt(abar) and sqrt(1 - abar) in float64: 1 - abar is tiny near s = 0.
            abar = ddpm_alphas_cumprod(self.num_refinement_steps, self.min_noise_std)
            signal = jnp.asarray(np.sqrt(abar), u.dtype)[step][expand]
            std = jnp.asarray(np.sqrt(1.0 - abar), u.dtype)[step][expand]
            estimate = signal * u + std * noise
            target = signal * noise - std * u
        return self._backbone(x, estimate, step, train, z), target


def refinement_samples(
    model: PDERefiner, params, x: jax.Array, key: jax.Array, n_samples: int, **kwargs
) -> jax.Array:
    """``[n_samples, batch, *space, out_channels]``: refinements of the same input with
    independent noise (their spread estimates the prediction's uncertainty)."""
    keys = jax.random.split(key, n_samples)
    return jax.vmap(lambda k: model.apply(params, x, rngs={RNG_STREAM: k}, **kwargs))(keys)
