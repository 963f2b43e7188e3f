"""Low-rank (Tucker, CP, tensor-train) complex weight tensors, as in TFNO.

A spectral weight ``W`` of shape ``(in, out, *modes)`` (or ``(channels, *modes)`` for a
separable layer) is stored in factorized form and reconstructed before use. The
parametrisation is tensorly-torch's ``FactorizedTensor`` (which neuraloperator's TFNO
uses), mode for mode, so neuraloperator checkpoints map onto it without reordering:

* Tucker: core ``G [r_0, ..., r_{N-1}]`` and factors ``U_k [shape_k, r_k]``,
  ``W = G x_0 U_0 x_1 ... x_{N-1} U_{N-1}``;
* CP: weights ``w [r]`` and factors ``U_k [shape_k, r]``,
  ``W[i_0, ...] = sum_r w_r prod_k U_k[i_k, r]``;
* TT: cores ``G_k [r_k, shape_k, r_{k+1}]`` with ``r_0 = r_N = 1``,
  ``W[i_0, ...] = G_0[:, i_0, :] G_1[:, i_1, :] ... G_{N-1}[:, i_{N-1}, :]``.

Every part is complex. A float ``rank`` is a fraction of the dense tensor's parameter
count and is turned into integer ranks exactly as tensorly's ``validate_tucker_rank``,
``validate_cp_rank`` and ``validate_tt_rank`` do (round half to even); an int or a
sequence of ints gives the ranks directly. Initialisation follows tensorly-torch's
``normal_(0, std)`` for each factorization, so the reconstructed tensor has about ``std``.
"""

from __future__ import annotations

import math
import string
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

FACTORIZATIONS = ("dense", "tucker", "cp", "tt")


def canonical_factorization(factorization: str | None) -> str:
    """``None``, ``"dense"`` or a factorization name in any case -> one of ``FACTORIZATIONS``."""
    name = "dense" if factorization is None else str(factorization).lower()
    if name not in FACTORIZATIONS:
        raise ValueError(
            f"factorization={factorization!r}; expected None or one of {FACTORIZATIONS}"
        )
    return name


def _is_fraction(rank) -> bool:
    return isinstance(rank, (float, np.floating))


def _is_int(rank) -> bool:
    return isinstance(rank, (int, np.integer)) and not isinstance(rank, bool)


def tucker_rank(
    shape: Sequence[int], rank, fixed_modes: Sequence[int] | None = None
) -> tuple[int, ...]:
    """tensorly's ``validate_tucker_rank(shape, rank, rounding="round", fixed_modes)``."""
    shape = [int(s) for s in shape]
    if _is_fraction(rank):
        from scipy.optimize import brentq

        n_param = float(np.prod(shape))
        free = list(shape)
        fixed = []
        for mode in sorted(fixed_modes or (), reverse=True):
            fixed.append((mode, free.pop(mode)))
        fixed = fixed[::-1]
        n_fixed = float(sum(s**2 for _, s in fixed))
        n_compressed = len(free)
        squared = float(sum(s**2 for s in free))

        def fun(c):
            return n_param * c**n_compressed + squared * c + n_fixed * c - rank * n_param

        fraction = brentq(fun, 0.0, max(float(rank), 1.0))
        ranks = [max(int(np.round(s * fraction)), 1) for s in free]
        for mode, size in fixed:
            ranks.insert(mode, size)
        return tuple(ranks)
    if _is_int(rank):
        fixed = set(fixed_modes or ())
        return tuple(s if i in fixed else int(rank) for i, s in enumerate(shape))
    ranks = tuple(int(r) for r in rank)
    if len(ranks) != len(shape):
        raise ValueError(
            f"Tucker rank {tuple(rank)} has {len(ranks)} entries; expected {len(shape)}"
        )
    return ranks


def cp_rank(shape: Sequence[int], rank) -> int:
    """tensorly's ``validate_cp_rank(shape, rank, rounding="round")``."""
    if _is_fraction(rank):
        rank = int(np.round(np.prod(shape) * rank / np.sum(shape)))
    if not _is_int(rank) or rank < 1:
        raise ValueError(f"CP rank {rank!r} for a tensor of shape {tuple(shape)} is not >= 1")
    return int(rank)


def tt_rank(shape: Sequence[int], rank) -> tuple[int, ...]:
    """tensorly's ``validate_tt_rank(shape, rank, constant_rank=False, rounding="round")``."""
    shape = [int(s) for s in shape]
    order = len(shape)
    if _is_fraction(rank):
        avg = [(shape[i] + shape[i + 1]) / 2 for i in range(order - 1)]
        if len(avg) > 1:
            a = sum(avg[i - 1] * shape[i] * avg[i] for i in range(1, order - 1))
        else:
            a = avg[0] ** 2 * shape[0]
        b = shape[0] * avg[0] + shape[-1] * avg[-1]
        c = -np.prod(shape) * rank
        fraction = (-b + np.sqrt(b**2 - 4 * a * c)) / (2 * a)
        return (1, *(max(int(np.round(d * fraction)), 1) for d in avg), 1)
    if _is_int(rank):
        return (1, *([int(rank)] * (order - 1)), 1)
    ranks = tuple(int(r) for r in rank)
    if len(ranks) != order + 1 or ranks[0] != 1 or ranks[-1] != 1:
        raise ValueError(
            f"TT rank {tuple(rank)} must have {order + 1} entries starting and ending with 1"
        )
    return ranks


def factor_shapes(
    factorization: str, shape: Sequence[int], rank, fixed_rank_modes: bool = False
) -> dict[str, tuple[int, ...]]:
    """The complex parts of a factorized tensor of ``shape``: ``{name: part shape}``.

    ``fixed_rank_modes=True`` keeps the first mode unfactorized (Tucker only), as
    neuraloperator's ``fixed_rank_modes=True`` does.
    """
    shape = tuple(int(s) for s in shape)
    factorization = canonical_factorization(factorization)
    if factorization == "tucker":
        ranks = tucker_rank(shape, rank, [0] if fixed_rank_modes else None)
        parts = {"core": ranks}
        parts.update({f"factor_{k}": (s, r) for k, (s, r) in enumerate(zip(shape, ranks))})
        return parts
    if factorization == "cp":
        r = cp_rank(shape, rank)
        return {"weights": (r,), **{f"factor_{k}": (s, r) for k, s in enumerate(shape)}}
    if factorization == "tt":
        ranks = tt_rank(shape, rank)
        return {f"factor_{k}": (ranks[k], s, ranks[k + 1]) for k, s in enumerate(shape)}
    return {"tensor": shape}


def part_stddevs(factorization: str, parts: dict[str, tuple[int, ...]], std: float) -> dict:
    """Standard deviation of each complex part under tensorly-torch's ``normal_(0, std)``;
    ``None`` marks CP's weights, which start at one."""
    factorization = canonical_factorization(factorization)
    if factorization == "tucker":
        order = len(parts["core"])
        scale = math.prod(math.sqrt(r) for r in parts["core"])
        s = (std / scale) ** (1.0 / (order + 1))
        return dict.fromkeys(parts, s)
    if factorization == "cp":
        r = parts["weights"][0]
        order = len(parts) - 1
        s = (std / math.sqrt(r)) ** (1.0 / order)
        return {name: (None if name == "weights" else s) for name in parts}
    if factorization == "tt":
        order = len(parts)
        ranks = [parts[f"factor_{k}"][0] for k in range(order)] + [1]
        s = (std / math.prod(ranks)) ** (1.0 / order)
        return dict.fromkeys(parts, s)
    return dict.fromkeys(parts, std)


def reconstruct(factorization: str, parts: dict[str, jax.Array]) -> jax.Array:
    """The full complex tensor from its complex parts (see the module docstring)."""
    factorization = canonical_factorization(factorization)
    if factorization == "dense":
        return parts["tensor"]
    if factorization == "tt":
        order = len(parts)
        out = parts["factor_0"][0]  # [s_0, r_1]
        for k in range(1, order):
            out = jnp.tensordot(out, parts[f"factor_{k}"], axes=1)
        return out[..., 0]
    order = len(parts) - 1
    letters = string.ascii_letters
    full, ranks = letters[:order], letters[order : 2 * order]
    if factorization == "tucker":
        spec = ",".join([ranks] + [f"{a}{r}" for a, r in zip(full, ranks)]) + f"->{full}"
        return jnp.einsum(spec, parts["core"], *(parts[f"factor_{k}"] for k in range(order)))
    r = ranks[0]
    spec = ",".join([r] + [f"{a}{r}" for a in full]) + f"->{full}"
    return jnp.einsum(spec, parts["weights"], *(parts[f"factor_{k}"] for k in range(order)))
