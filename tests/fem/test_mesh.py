"""Meshes: the built-in domains, nested refinement, meshio files and their errors."""

from __future__ import annotations

import numpy as np
import pytest

from opjax.fem import Mesh, MeshFileError, disk, l_shape, read_mesh, square_with_hole, unit_square


@pytest.mark.parametrize(
    ("mesh", "area"),
    [
        (unit_square(4), 1.0),
        (l_shape(1), 3.0),
        (square_with_hole(6), 8 / 9),
    ],
)
def test_domain_areas(mesh, area):
    assert mesh.area == pytest.approx(area, rel=1e-13)
    assert mesh.refined(2).area == pytest.approx(area, rel=1e-13)


def test_disk_area_converges_to_pi():
    """The inscribed polygon's area error falls 4x per refinement (``pi - A ~ h^2``)."""
    errors = [np.pi - disk(r).area for r in (2, 3, 4)]
    assert all(e > 0 for e in errors)
    np.testing.assert_allclose(np.log2(errors[0] / errors[1]), 2.0, atol=0.05)
    np.testing.assert_allclose(np.log2(errors[1] / errors[2]), 2.0, atol=0.05)


def test_refinement_is_nested_and_quarters_cells():
    coarse = l_shape(1)
    fine = coarse.refined()
    assert fine.n_cells == 4 * coarse.n_cells
    np.testing.assert_array_equal(fine.points[: coarse.n_points], coarse.points)
    assert fine.h == pytest.approx(coarse.h / 2)


def test_hole_has_no_cells_and_no_points_inside():
    mesh = square_with_hole(9)
    centroids = mesh.points[mesh.cells].mean(axis=1)
    assert not np.any(np.all((centroids > 1 / 3) & (centroids < 2 / 3), axis=1))
    inside = np.all((mesh.points > 1 / 3 + 1e-12) & (mesh.points < 2 / 3 - 1e-12), axis=1)
    assert not inside.any()


def test_clockwise_cells_are_reoriented():
    mesh = Mesh(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), np.array([[0, 2, 1]]))
    assert mesh.area == pytest.approx(0.5)


@pytest.mark.parametrize("suffix", [".vtu", ".msh", ".xdmf"])
def test_meshio_round_trip(tmp_path, suffix):
    mesh = l_shape(1)
    path = tmp_path / f"l_shape{suffix}"
    mesh.write(path)
    read = read_mesh(path)
    np.testing.assert_allclose(read.points, mesh.points)
    np.testing.assert_array_equal(read.cells, mesh.cells)


def test_unreadable_mesh_file_is_named(tmp_path):
    path = tmp_path / "broken.vtu"
    path.write_text("this is not a mesh")
    with pytest.raises(MeshFileError, match="broken.vtu"):
        read_mesh(path)
    with pytest.raises(MeshFileError, match="does not exist"):
        read_mesh(tmp_path / "missing.msh")


def test_mesh_file_without_triangles_is_refused(tmp_path):
    import meshio

    path = tmp_path / "lines.vtu"
    meshio.write(path, meshio.Mesh(np.zeros((2, 3)), [("line", np.array([[0, 1]]))]))
    with pytest.raises(MeshFileError, match="no triangle cells.*line"):
        read_mesh(path)


def test_bad_mesh_arrays_are_named():
    points = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    with pytest.raises(ValueError, match=r"points \[3\] belong to no cell"):
        Mesh(points, np.array([[0, 1, 2]]))
    with pytest.raises(ValueError, match="index points outside"):
        Mesh(points[:3], np.array([[0, 1, 5]]))
    with pytest.raises(ValueError, match=r"cells \[1\] have zero area"):
        Mesh(points, np.array([[0, 1, 2], [0, 0, 3]]))
