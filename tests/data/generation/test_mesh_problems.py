"""Datasets on triangle meshes (poisson_mesh, darcy_mesh): the stored solutions solve the
discrete equation, hold the Dirichlet data exactly, and the file carries the mesh."""

import jax.numpy as jnp
import numpy as np
import pytest

from opjax.data.formats import open_dataset
from opjax.data.generation import generate, load_dataset_recipe
from opjax.data.info import describe
from opjax.data.mesh_data import dataset_space
from opjax.fem import apply_cell_matrices, cell_stiffness, l_shape, square_with_hole
from opjax.recipe_tables import RecipeError

TINY = ["parameters.refinements=1", "splits.train=3", "splits.test=2", "chunk_size=3"]


def _generate(tmp_path, problem, *extra):
    recipe = load_dataset_recipe(
        None, [f"problem='{problem}'", f"output='{tmp_path}'", *TINY, *extra]
    )
    return generate(recipe)


def _fields(path):
    with open_dataset(str(path), "opjax_h5") as file:
        return {k: np.asarray(v.source[()], np.float64) for k, v in file.fields.items()}, file.mesh


def _interior_residual(space, coefficient, u, source):
    """``(K(a) u - M f)`` at the interior DOFs, relative to ``|M f|``."""
    stiffness = np.asarray(
        apply_cell_matrices(space, cell_stiffness(space, jnp.asarray(coefficient)), jnp.asarray(u))
    )
    load = space.mass_scipy @ source
    interior = ~space.boundary_mask
    return np.abs(stiffness - load)[interior].max() / np.abs(load[interior]).max()


@pytest.mark.parametrize("degree", [1, 2])
def test_poisson_solutions_solve_the_discrete_equation(tmp_path, degree):
    files = _generate(
        tmp_path,
        "poisson_mesh",
        "parameters.domain='square_with_hole'",
        f"parameters.degree={degree}",
    )
    fields, mesh = _fields(files["train"])
    space = mesh.space
    assert mesh.domain == "square_with_hole" and space.degree == degree
    expected = square_with_hole(6)  # refined once from the base 3 x 3 cells per side
    np.testing.assert_array_equal(space.mesh.points, expected.points)
    assert mesh.coarse is not None and mesh.coarse.mesh.n_cells * 4 == space.mesh.n_cells
    for s in range(3):
        u, f, g = fields["u"][s], fields["f"][s], fields["g"][s]
        assert np.all(u[space.boundary_mask] == g[space.boundary_mask])
        assert np.all(g[~space.boundary_mask] == 0.0) and np.abs(g).max() > 0
        assert _interior_residual(space, np.ones(space.n_dofs), u, f) < 1e-5
    assert not np.allclose(fields["f"][0], fields["f"][1])


def test_darcy_coefficients_are_bounded_and_solutions_solve_the_equation(tmp_path):
    files = _generate(tmp_path, "darcy_mesh", "parameters.domain='l_shape'")
    fields, mesh = _fields(files["test"])
    space = mesh.space
    np.testing.assert_array_equal(space.mesh.points, l_shape(1).points)
    a = fields["a"]
    assert a.min() >= 3.0 and a.max() <= 12.0 and a.max() - a.min() > 3.0  # float32 rounding
    for s in range(2):
        assert np.all(fields["u"][s][space.boundary_mask] == 0.0)
        residual = _interior_residual(space, a[s], fields["u"][s], np.ones(space.n_dofs))
        assert residual < 1e-5


def test_a_seed_fixes_the_samples_and_data_info_shows_the_mesh(tmp_path):
    first = _fields(_generate(tmp_path / "a", "poisson_mesh")["train"])[0]
    second = _fields(_generate(tmp_path / "b", "poisson_mesh")["train"])[0]
    np.testing.assert_array_equal(first["u"], second["u"])
    path = _generate(tmp_path / "a", "poisson_mesh")["train"]
    with open_dataset(str(path), "opjax_h5") as file:
        text = describe(file)
        assert dataset_space(file).n_dofs == 21
    assert "mesh:     l_shape, P1: 21 vertices, 24 cells, 21 DOFs" in text
    assert "coarse:   6 cells, 8 DOFs" in text


@pytest.mark.parametrize(
    "override, match",
    [
        ("parameters.domain='circle'", "domain"),
        ("parameters.degree=3", "degree"),
    ],
)
def test_bad_parameters_are_named(tmp_path, override, match):
    with pytest.raises((RecipeError, ValueError), match=match):
        _generate(tmp_path, "poisson_mesh", override)
