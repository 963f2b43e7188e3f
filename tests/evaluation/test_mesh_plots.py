"""Plots of finite-element functions on meshes: the triangulation they are drawn on, and
the PNGs they write."""

from __future__ import annotations

import numpy as np
import pytest

from opjax.evaluation.mesh_plots import dof_triangulation, plot_mesh_fields, plot_mesh_prediction
from opjax.fem import LagrangeSpace, l_shape, unit_square
from opjax.fem.mesh import signed_areas

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def sine_bump(points):
    return np.sin(np.pi * points[:, 0]) * np.sin(np.pi * points[:, 1])


def assert_png(path):
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 1000


@pytest.mark.parametrize("degree", [1, 2])
def test_dof_triangulation_covers_the_mesh_with_every_dof_a_vertex(degree):
    """P1: the mesh's cells; P2: each cell split into its four midpoint sub-triangles, each
    a quarter of the cell (their orientation is scikit-fem's, which sorts each cell's
    vertices, and does not matter to ``tripcolor``)."""
    mesh = l_shape(1)
    space = LagrangeSpace(mesh, degree)
    triangulation = dof_triangulation(space)
    triangles = triangulation.triangles
    np.testing.assert_array_equal(np.unique(triangles), np.arange(space.n_dofs))
    areas = np.abs(signed_areas(space.dof_points, triangles))
    sub_triangles = 4 ** (degree - 1)
    cell_areas = signed_areas(mesh.points, mesh.cells)
    np.testing.assert_allclose(areas, np.repeat(cell_areas, sub_triangles) / sub_triangles)
    assert areas.sum() == pytest.approx(mesh.area)


@pytest.mark.parametrize("degree", [1, 2])
def test_plots_write_pngs(tmp_path, degree):
    space = LagrangeSpace(unit_square(4), degree)
    reference = space.interpolate(sine_bump)
    prediction = reference + 0.1 * space.dof_points[:, 0]
    fields = {"prediction": prediction, "reference": reference}
    plot_mesh_fields(str(tmp_path / "fields.png"), space, fields, title=f"P{degree}")
    plot_mesh_fields(str(tmp_path / "shared" / "fields.png"), space, fields, shared_scale=True)
    plot_mesh_prediction(str(tmp_path / "prediction.png"), space, prediction, reference, "test")
    for name in ("fields.png", "shared/fields.png", "prediction.png"):
        assert_png(tmp_path / name)


def test_plots_check_the_fields(tmp_path):
    space = LagrangeSpace(unit_square(2), 2)
    with pytest.raises(ValueError, match=f"field 'u' has shape .*the {space.n_dofs} DOFs"):
        plot_mesh_fields(str(tmp_path / "bad.png"), space, {"u": np.zeros(space.n_dofs - 1)})
    with pytest.raises(ValueError, match="one function"):
        plot_mesh_fields(str(tmp_path / "bad.png"), space, {"u": np.zeros((2, space.n_dofs))})
    with pytest.raises(ValueError, match="at least one field"):
        plot_mesh_fields(str(tmp_path / "bad.png"), space, {})
    assert not (tmp_path / "bad.png").exists()
