"""The opjax HDF5 reader on finite-element datasets: the file's mesh rebuilds the
generator's Lagrange space, and a mesh that does not fit the fields is refused."""

import h5py
import numpy as np
import pytest

from opjax.data.errors import DataFormatError
from opjax.data.formats import open_opjax_h5
from opjax.data.generation import PROBLEMS, generate, load_dataset_recipe
from opjax.data.mesh_data import dataset_space


@pytest.fixture(scope="module")
def p2_file(tmp_path_factory):
    output = tmp_path_factory.mktemp("poisson")
    overrides = [
        "problem='poisson_mesh'",
        "parameters={ domain = 'disk', refinements = 1, degree = 2 }",
        "splits.train=2",
        "chunk_size=2",
        f"output='{output}'",
    ]
    recipe = load_dataset_recipe(None, overrides)
    return recipe, generate(recipe)["train"]


def test_the_file_rebuilds_the_generators_space(p2_file):
    recipe, path = p2_file
    generated = PROBLEMS["poisson_mesh"].build(recipe["splits"]["train"]["parameters"]).mesh
    with open_opjax_h5(path) as file:
        space = dataset_space(file)
        assert file.mesh.domain == "disk" and file.mesh.element == "P2"
        assert file.field("u").shape == (2, space.n_dofs, 1)
    assert space.n_dofs == generated.space.n_dofs
    np.testing.assert_array_equal(space.dof_points, generated.space.dof_points)
    np.testing.assert_array_equal(space.cell_dofs, generated.space.cell_dofs)
    np.testing.assert_array_equal(space.boundary_dofs, generated.space.boundary_dofs)


def test_a_mesh_that_does_not_fit_the_fields_is_refused(p2_file, tmp_path):
    _, path = p2_file
    copy = tmp_path / "p1.h5"
    copy.write_bytes(path.read_bytes())
    with h5py.File(copy, "r+") as f:
        f["mesh"].attrs["element"] = "P1"
    with pytest.raises(DataFormatError, match="field 'f' has spatial shape .* P1 mesh has 13"):
        open_opjax_h5(copy)
    with h5py.File(copy, "r+") as f:
        f["mesh"].attrs["element"] = "P3"
    with pytest.raises(DataFormatError, match="unknown element 'P3'"):
        open_opjax_h5(copy)


def test_a_grid_dataset_has_no_space(tmp_path):
    path = tmp_path / "grid.h5"
    with h5py.File(path, "w") as f:
        f.attrs.update(format="opjax-h5", complete=True, n_samples=2, n_written=2)
        f.create_dataset("fields/a", data=np.ones((2, 8), np.float32))
    with open_opjax_h5(path) as file, pytest.raises(DataFormatError, match="has no mesh"):
        dataset_space(file)
