"""Steady 2D Darcy flow ``-div(a grad u) = f`` on the unit square, ``u = 0`` on the boundary.

The problem (Li et al. 2021, "Fourier Neural Operator", section 5.2):

    -div(a(x) grad u(x)) = f(x),   x in (0, 1)^2,       u = 0 on the boundary,

with a permeability ``a(x) > 0`` and a source ``f``. The FNO benchmark draws
``psi ~ N(0, 9 (-Laplacian + 9)^(-2))`` with a Neumann (cosine-series) Laplacian
(:func:`opjax.solvers.cosine_random_field`, ``alpha = 2, tau = 3``), thresholds it to
``a = 12`` where ``psi >= 0`` and ``a = 3`` elsewhere (:func:`opjax.solvers.threshold`), and
takes ``f = 1``; then ``max u`` is about 0.010-0.017 (median 0.013 over 64 samples at
``s = 85``).

Discretisation. An ``s x s`` node grid that includes the boundary, ``x_i = i h`` with
``h = 1 / (s - 1)``, ``i = 0 .. s-1`` (first array axis ``x``, second ``y``). Coefficients
``a [s, s]`` and sources ``f [s, s]`` are node values, boundary nodes included; the
unknowns are the ``(s - 2)^2`` interior values and the boundary values of ``u`` are 0.
The 5-point stencil in conservative (finite-volume) form is

    (A u)_ij = [ a_{i+1/2,j} (u_ij - u_{i+1,j}) + a_{i-1/2,j} (u_ij - u_{i-1,j})
               + a_{i,j+1/2} (u_ij - u_{i,j+1}) + a_{i,j-1/2} (u_ij - u_{i,j-1}) ] / h^2
             = f_ij,

whose face coefficient is the arithmetic mean of the two node values,
``a_{i+1/2,j} = (a_ij + a_{i+1,j}) / 2`` (the FNO generator's choice), or optionally their
harmonic mean ``2 a_ij a_{i+1,j} / (a_ij + a_{i+1,j})`` (the flux-continuous choice for
a coefficient that jumps between nodes). ``A`` is symmetric positive definite and an
M-matrix, so ``u > 0`` inside for ``f >= 0, f != 0``. The scheme is second order,
``max |u_h - u| = O(h^2)``, for smooth ``a`` and ``u``; for the two-valued ``a`` expect
lower order near the interfaces, as for any scheme on a grid not fitted to them.

Solver. The linear system is solved matrix-free by preconditioned conjugate gradients
(PCG) until ``||f - A u||_2 <= tol ||f||_2`` over the interior nodes. The default
preconditioner, ``"laplacian"``, is the exact inverse of the constant-coefficient 5-point
Laplacian ``L``, applied with a 2D discrete sine transform (DST-I): dense ``[n, n]``
matrix products for ``n = s - 2 <= 256``, FFTs of the odd extension above. Because the
face coefficients lie in ``[min a, max a]``, ``min(a) L <= A <= max(a) L`` and the
preconditioned condition number is at most ``max(a) / min(a)`` (4 for 12/3) whatever
``s`` is: for FNO's coefficients PCG takes 21-25 iterations to ``tol = 1e-10`` (14-17 to
``1e-6``) at s = 85, 141 and 241 alike, where the ``"jacobi"`` (diagonal) preconditioner
takes ``O(s)``: about 350, 600 and 1000 (timings in ``evaluation/speed/solvers.md``).
On a CPU a vmapped batch costs about as much per sample as a single solve, and
:func:`jax.lax.map` over the samples is as fast or faster for ``s >= 141`` (the batched
iterates no longer fit in cache).
Gradients with respect to ``a`` and ``f`` come from implicit differentiation of the
linear solve (:func:`jax.lax.custom_linear_solve`: one more PCG solve with the same
operator, since ``A`` is symmetric), not from differentiating through the iterations.
:meth:`Darcy2D.solve` works under ``jit``, ``vmap`` (a batch of coefficient fields) and
``grad``.

Relation to FNO's files (``piececonst_r421_N1024_smooth*.mat``, ``s = 421``, subsampled
to 211, 141, 106, 85 by taking every 2nd, 3rd, 4th, 5th point). FNO's MATLAB generator
assembles exactly this matrix (arithmetic face means, ``h = 1/(s-1)``, ``f = 1``), but it
treats its input array as values at cell centres ``(i + 1/2) / s``, spline-interpolates
``a`` to the nodes before assembling, and spline-interpolates the node solution back to
the cell centres (and transposes it) before saving. :meth:`Darcy2D.solve` skips both
interpolations: it reads ``a`` as node values and returns ``u`` at the nodes, boundary
included (zeros on the boundary). Given a file's ``coeff`` it therefore reproduces the
file's ``sol`` only approximately (the two grids differ by at most half a cell, and the
spline overshoots at the jumps of ``a``), not to solver tolerance.

Good values: ``s = 85`` to ``241`` (421 for FNO's full resolution), ``f = 1``,
``a in {3, 12}``; the default tolerances (``1e-10`` in float64, ``1e-6`` in float32).

Example::

    from opjax.solvers import Darcy2D, cosine_random_field, threshold

    key = jax.random.PRNGKey(0)
    psi = cosine_random_field(key, (85, 85))            # alpha = 2, tau = 3
    a = threshold(psi, high=12.0, low=3.0)               # [85, 85]
    u = Darcy2D().solve(a)                               # [85, 85], u = 0 on the boundary
    batch = jax.jit(jax.vmap(Darcy2D().solve))(a_batch)  # a_batch [b, 85, 85]
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

_FACE_AVERAGES = ("arithmetic", "harmonic")
_PRECONDITIONERS = ("laplacian", "jacobi", "none")
# Above this many interior points per axis the FFT-based DST-I beats the dense product
# (2-core CPU, float64: dense faster at n = 139, even at n = 239, 2.7x slower at n = 419).
_DENSE_DST_MAX = 256


class Darcy2D(eqx.Module):
    """``-div(a grad u) = f`` on ``[0, 1]^2``, ``u = 0`` on the boundary, on an ``s x s``
    node grid (see the module docstring for the stencil and the solver).

    Attributes:
        face_average: ``"arithmetic"`` (FNO's generator) or ``"harmonic"`` mean of the two
            node values of ``a`` on each face.
        preconditioner: ``"laplacian"`` (fast sine-transform inverse of the constant
            coefficient Laplacian; iterations independent of ``s``), ``"jacobi"``
            (diagonal) or ``"none"``.
        tol: stop when ``||f - A u||_2 <= tol ||f||_2`` (interior nodes); ``None`` means
            ``1e-10`` in float64 and ``1e-6`` in float32.
        maxiter: most PCG iterations; ``None`` means ``10 s`` (ample for every
            preconditioner). A solve that reaches it returns its last iterate
            (see :meth:`solve_with_info`).
    """

    face_average: str = eqx.field(default="arithmetic", static=True)
    preconditioner: str = eqx.field(default="laplacian", static=True)
    tol: float | None = eqx.field(default=None, static=True)
    maxiter: int | None = eqx.field(default=None, static=True)

    def __check_init__(self):
        if self.face_average not in _FACE_AVERAGES:
            raise ValueError(
                f"Darcy2D.face_average must be one of {_FACE_AVERAGES}; got {self.face_average!r}"
            )
        if self.preconditioner not in _PRECONDITIONERS:
            raise ValueError(
                f"Darcy2D.preconditioner must be one of {_PRECONDITIONERS}; "
                f"got {self.preconditioner!r}"
            )

    def face_coefficients(self, a: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Face coefficients ``a_{i+1/2,j} [s-1, s]`` and ``a_{i,j+1/2} [s, s-1]``."""
        if self.face_average == "arithmetic":
            mean = lambda p, q: 0.5 * (p + q)  # noqa: E731
        else:
            mean = lambda p, q: 2.0 * p * q / (p + q)  # noqa: E731
        return mean(a[1:, :], a[:-1, :]), mean(a[:, 1:], a[:, :-1])

    def operator(self, a: jax.Array, u: jax.Array) -> jax.Array:
        """``A u [s, s]``: the discrete ``-div(a grad u)`` at the interior nodes, 0 on the
        boundary. ``u [s, s]``'s boundary values are ignored (taken as 0)."""
        a, u = self._check(a, u, "u")
        ax, ay = self._interior_faces(a)
        return jnp.pad(_apply(ax, ay, u[1:-1, 1:-1]), 1)

    def solve(self, a: jax.Array, f: float | jax.Array = 1.0) -> jax.Array:
        """The solution ``u [s, s]`` (zeros on the boundary) for ``a [s, s] > 0`` and a
        source ``f`` (a scalar or ``[s, s]``; only its interior values are used)."""
        return self.solve_with_info(a, f)[0]

    def solve_with_info(
        self, a: jax.Array, f: float | jax.Array = 1.0
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """:meth:`solve` plus ``{"iterations": int, "residual": ||f - A u|| / ||f||}``
        (the residual as updated by PCG; ``iterations == maxiter`` means not converged)."""
        a, f = self._check(a, f)
        s = a.shape[0]
        tol = self.tol if self.tol is not None else _default_tol(a.dtype)
        maxiter = self.maxiter if self.maxiter is not None else 10 * s
        ax, ay = self._interior_faces(a)
        b = f[1:-1, 1:-1]

        def matvec(v):
            return _apply(ax, ay, v)

        precondition = self._preconditioner(ax, ay, s - 2, a.dtype)

        def pcg(matvec, rhs):
            return _pcg(matvec, rhs, precondition, tol, maxiter)

        v, (iterations, residual) = lax.custom_linear_solve(
            matvec, b, pcg, symmetric=True, has_aux=True
        )
        return jnp.pad(v, 1), {"iterations": iterations, "residual": residual}

    def _interior_faces(self, a):
        """Face coefficients over ``h^2`` on the faces touching interior nodes:
        ``[n+1, n]`` (x faces) and ``[n, n+1]`` (y faces), ``n = s - 2``."""
        ax, ay = self.face_coefficients(a)
        inv_h2 = (a.shape[0] - 1) ** 2
        return ax[:, 1:-1] * inv_h2, ay[1:-1, :] * inv_h2

    def _preconditioner(self, ax, ay, n, dtype):
        if self.preconditioner == "none":
            return lambda r: r
        if self.preconditioner == "jacobi":
            diagonal = ax[1:, :] + ax[:-1, :] + ay[:, 1:] + ay[:, :-1]
            return lambda r: r / diagonal
        k = jnp.arange(1, n + 1, dtype=dtype)
        lam_1d = (2 * (n + 1) * jnp.sin(0.5 * math.pi * k / (n + 1))) ** 2  # h = 1 / (n + 1)
        # Inverse eigenvalues of -Laplacian_h with the DST-I normalisation (2 / (n + 1))^2.
        weights = (2.0 / (n + 1)) ** 2 / (lam_1d[:, None] + lam_1d[None, :])
        dst2 = _dst2_dense(n, dtype) if n <= _DENSE_DST_MAX else _dst2_fft

        def laplacian_inverse(r):
            return dst2(dst2(r) * weights)

        return laplacian_inverse

    def _check(self, a, f, name="the source f"):
        a = jnp.asarray(a)
        if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] < 3:
            raise ValueError(
                f"Darcy2D: the coefficient a must be one field [s, s] with s >= 3 (vmap over "
                f"batches); got shape {a.shape}"
            )
        f = jnp.asarray(f)
        if f.ndim != 0 and f.shape != a.shape:
            raise ValueError(
                f"Darcy2D: {name} must be a scalar or of a's shape {a.shape}; got shape {f.shape}"
            )
        dtype = jnp.result_type(a, f, jnp.float32)
        return a.astype(dtype), jnp.broadcast_to(f.astype(dtype), a.shape)


def _apply(ax, ay, v):
    """``A v [n, n]`` for interior values ``v [n, n]`` (zero Dirichlet data around), with
    the face coefficients over ``h^2``: ``ax [n+1, n]``, ``ay [n, n+1]``."""
    u = jnp.pad(v, 1)
    fx = ax * (u[1:, 1:-1] - u[:-1, 1:-1])  # (a du/dx) / h on the x faces
    fy = ay * (u[1:-1, 1:] - u[1:-1, :-1])
    return (fx[:-1, :] - fx[1:, :]) + (fy[:, :-1] - fy[:, 1:])


def _dst2_dense(n, dtype):
    """2D DST-I ``x -> S x S`` of ``x [n, n]`` with ``S_jk = sin(pi j k / (n + 1))``,
    ``j, k = 1 .. n``, as dense products (``S`` is symmetric, ``S^2 = (n + 1) / 2 I``)."""
    j = jnp.arange(1, n + 1)
    jk = (j[:, None] * j[None, :]) % (2 * (n + 1))  # exact integer phase, no large arguments
    sines = jnp.sin((math.pi / (n + 1)) * jk.astype(dtype))
    return lambda x: sines @ x @ sines


def _dst2_fft(x):
    """The same 2D DST-I ``S x S`` by FFTs (see :func:`_dst_fft`)."""
    return jnp.swapaxes(_dst_fft(jnp.swapaxes(_dst_fft(x), -1, -2)), -1, -2)


def _dst_fft(x):
    """DST-I along the last axis, ``y_k = sum_j x_j sin(pi j k / (n + 1))``, from the real
    FFT of the odd extension ``[0, x, 0, -reversed(x)]`` (length ``2 n + 2``), whose
    transform is ``-2 i y``."""
    n = x.shape[-1]
    zero = jnp.zeros((*x.shape[:-1], 1), x.dtype)
    odd = jnp.concatenate([zero, x, zero, -x[..., ::-1]], axis=-1)
    return -0.5 * jnp.fft.rfft(odd, axis=-1).imag[..., 1 : n + 1]


def _pcg(matvec, b, precondition, tol, maxiter):
    """Preconditioned conjugate gradients from ``x = 0`` until ``||r|| <= tol ||b||``.

    Returns ``(x, (iterations, ||r|| / ||b||))``; ``b = 0`` gives ``x = 0`` at once.
    """
    dot = lambda p, q: jnp.sum(p * q)  # noqa: E731
    bb = dot(b, b)
    stop = (tol**2) * bb

    def cond(state):
        _, _, _, _, rr, k = state
        return (rr > stop) & (k < maxiter)

    def body(state):
        x, r, p, rz, _, k = state
        ap = matvec(p)
        pap = dot(p, ap)
        alpha = rz / jnp.where(pap > 0, pap, 1.0)
        x = x + alpha * p
        r = r - alpha * ap
        z = precondition(r)
        rz_new = dot(r, z)
        p = z + (rz_new / jnp.where(rz > 0, rz, 1.0)) * p
        return x, r, p, rz_new, dot(r, r), k + 1

    z = precondition(b)
    state = (jnp.zeros_like(b), b, z, dot(b, z), bb, jnp.asarray(0, jnp.int32))
    x, _, _, _, rr, k = lax.while_loop(cond, body, state)
    return x, (k, jnp.sqrt(rr / jnp.where(bb > 0, bb, 1.0)))


def _default_tol(dtype) -> float:
    return 1e-10 if jnp.finfo(dtype).bits >= 64 else 1e-6
