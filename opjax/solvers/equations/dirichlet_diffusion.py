"""2D diffusion with homogeneous Dirichlet boundaries, by the 5-point finite-difference
Laplacian.

``u_t = D (u_xx + u_yy)`` on a square of ``n x n`` interior nodes with spacing ``h``,
``u = 0`` on the boundary. The state is the field padded with its boundary ring,
``[n + 2, n + 2]`` (the layout Phi-ROM's diffusion data uses: 40 x 40 interior nodes,
stored 42 x 42); the ring is held at zero:

    du_ij/dt = D (u_{i+1,j} + u_{i-1,j} + u_{i,j+1} + u_{i,j-1} - 4 u_ij) / h^2

on the interior, ``du/dt = 0`` on the ring, evaluated with the ring zeroed (so a decoded
state whose ring is not exactly zero still sees the boundary condition). Forward Euler is
stable for ``D dt / h^2 <= 1/4``. The discrete modes
``sin(p pi i / (n + 1)) sin(q pi j / (n + 1))`` decay at the rates
``D (4 / h^2) (sin^2(p pi / (2 (n + 1))) + sin^2(q pi / (2 (n + 1))))``.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from opjax.solvers.equations.explicit import ExplicitEquation


class DirichletDiffusion2D(ExplicitEquation):
    """``u_t = D Laplacian u``, ``u = 0`` on the boundary ring of the state ``[n+2, n+2]``.

    Attributes:
        diffusivity: ``D`` (traced: differentiable).
        points: interior nodes per axis ``n``.
        spacing: node spacing ``h``.
    """

    diffusivity: float | jax.Array
    points: int = eqx.field(static=True, default=40)
    spacing: float = eqx.field(static=True, default=1.0)

    def __check_init__(self):
        if self.points < 1 or not self.spacing > 0:
            raise ValueError(
                f"DirichletDiffusion2D needs >= 1 interior point and a positive spacing; "
                f"got {self.points}, {self.spacing}"
            )

    @property
    def shape(self) -> tuple[int, int]:
        return (self.points + 2, self.points + 2)

    def coordinates(self) -> np.ndarray:
        """Node positions along either axis, ring included, centred on 0, ``[n + 2]``."""
        half = (self.points + 1) / 2 * self.spacing
        return np.linspace(-half, half, self.points + 2)

    def vector_field(self, t, u, args=None):
        c = u[..., 1:-1, 1:-1]
        p = jnp.pad(c, [(0, 0)] * (u.ndim - 2) + [(1, 1), (1, 1)])  # the ring, zeroed
        laplacian = (
            p[..., 2:, 1:-1] + p[..., :-2, 1:-1] + p[..., 1:-1, 2:] + p[..., 1:-1, :-2] - 4 * c
        ) / self.spacing**2
        rate = self.diffusivity * laplacian
        return jnp.pad(rate, [(0, 0)] * (u.ndim - 2) + [(1, 1), (1, 1)])
