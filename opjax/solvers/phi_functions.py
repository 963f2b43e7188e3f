"""The phi-functions of exponential integrators, by the Kassam-Trefethen contour integral.

For ``u' = L u + N(u)`` with ``L`` diagonal (here: a Fourier symbol), the exponential time
differencing Runge-Kutta schemes of Cox and Matthews (J. Comput. Phys. 176, 2002) weight
the nonlinear evaluations with functions of ``z = h L`` such as

    phi_1(z) = (e^z - 1) / z,            phi_2(z) = (e^z - 1 - z) / z^2,

and, for ETDRK3 and ETDRK4,

    f_1(z) = (-4 - z + e^z (4 - 3z + z^2)) / z^3,
    f_2(z) = (2 + z + e^z (z - 2)) / z^3,
    f_3(z) = (-4 - 3z - z^2 + e^z (4 - z)) / z^3.

Evaluated as written they lose every digit as ``z -> 0`` (they tend to 1, 1/2, 1/6, 1/6,
1/6). Kassam and Trefethen (SIAM J. Sci. Comput. 26, 2005) evaluate each as the mean of the
same expression over ``M`` points on a circle of radius ``r`` around ``z``: by Cauchy's
integral formula that mean is the analytic function's value, and on the circle no point is
near the removable singularity. ``M = 64`` points of radius 1 give full double precision
for all ``z``, real or complex.
"""

from __future__ import annotations

import numpy as np


def _contour_mean(expression, z: np.ndarray, n_points: int, radius: float) -> np.ndarray:
    """Mean of ``expression(z + r e^{i theta_j})`` over ``theta_j = 2 pi (j + 1/2) / M``."""
    z = np.asarray(z, np.complex128)
    theta = 2.0 * np.pi * (np.arange(n_points) + 0.5) / n_points
    shifted = z[..., None] + radius * np.exp(1j * theta)
    return expression(shifted, np.exp).mean(axis=-1)


# Each takes ``z`` and the exponential to use (``numpy.exp`` here, ``jax.numpy.exp`` in
# the traced solver), so that both evaluate the one definition.
PHI_EXPRESSIONS = {
    "exp_half": lambda z, exp: exp(z / 2),
    "phi1": lambda z, exp: (exp(z) - 1) / z,
    "phi1_half": lambda z, exp: (exp(z / 2) - 1) / z,  # (1/2) phi_1(z/2)
    "phi2": lambda z, exp: (exp(z) - 1 - z) / z**2,
    "f1": lambda z, exp: (-4 - z + exp(z) * (4 - 3 * z + z**2)) / z**3,
    "f2": lambda z, exp: (2 + z + exp(z) * (z - 2)) / z**3,
    "f3": lambda z, exp: (-4 - 3 * z - z**2 + exp(z) * (4 - z)) / z**3,
}


def phi_functions(
    z: np.ndarray, names: tuple[str, ...], n_points: int = 64, radius: float = 1.0
) -> dict[str, np.ndarray]:
    """The named functions of ``z`` (complex128 arrays), stable for every ``z``.

    Args:
        z: ``h L`` for a step ``h`` and linear symbol ``L`` (any shape, real or complex).
        names: keys of ``PHI_EXPRESSIONS``.
        n_points, radius: the contour (Kassam-Trefethen use 32-64 points, radius 1).
    """
    unknown = set(names) - set(PHI_EXPRESSIONS)
    if unknown:
        raise ValueError(
            f"unknown phi-functions {sorted(unknown)}; known: {sorted(PHI_EXPRESSIONS)}"
        )
    return {name: _contour_mean(PHI_EXPRESSIONS[name], z, n_points, radius) for name in names}
