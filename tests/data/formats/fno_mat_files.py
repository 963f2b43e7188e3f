"""Writers of tiny FNO-paper ``.mat`` files, as MATLAB v5 (scipy) or v7.3 (HDF5 laid out
the way MATLAB writes it), and the variables of each FNO file in MATLAB's axis order."""

from __future__ import annotations

import time

import h5py
import numpy as np
import scipy.io


def values(shape, offset=0.0):
    """``offset + arange`` over ``shape``, float64 (MATLAB's double)."""
    return (offset + np.arange(int(np.prod(shape)), dtype=np.float64)).reshape(shape)


def darcy_variables(n=3, s=5):
    """``piececonst_r421_N1024_smooth1.mat``: coeff, Kcoeff, Kcoeff_x, Kcoeff_y, sol."""
    return {
        "coeff": values((n, s, s), 1000.0),
        "Kcoeff": values((n, s, s), 2000.0),
        "Kcoeff_x": values((n, s, s), 3000.0),
        "Kcoeff_y": values((n, s, s), 4000.0),
        "sol": values((n, s, s)),
    }


def burgers_variables(n=3, s=16):
    """``burgers_data_R10.mat``: ``a [n, s]``, ``u [n, s]``."""
    return {"a": values((n, s), 1000.0), "u": values((n, s))}


def ns_variables(n=3, s=4, n_t=5):
    """``ns_V1e-3_N5000_T50.mat``: ``a [n, s, s]``, ``u [n, s, s, T]``, ``t [1, T]``."""
    return {
        "a": values((n, s, s), 1000.0),
        "u": values((n, s, s, n_t)),
        "t": np.arange(1, n_t + 1, dtype=np.float64)[None, :],
    }


def write_v5(path, variables):
    """A MATLAB v5 file (``scipy.io.savemat``)."""
    scipy.io.savemat(path, variables)
    return path


def write_v73(path, variables, header=True):
    """A MATLAB v7.3 file: HDF5 with a 512-byte userblock holding MATLAB's 128-byte
    header, one dataset per variable stored column-major (h5py sees the axes reversed)
    and its ``MATLAB_class`` attribute."""
    classes = {np.dtype("float64"): "double", np.dtype("float32"): "single"}
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in variables.items():
            array = np.atleast_2d(np.asarray(value))
            dataset = f.create_dataset(name, data=array.T)  # C-order transpose = column-major
            dataset.attrs["MATLAB_class"] = np.bytes_(classes.get(array.dtype, "double"))
    if header:
        text = (
            "MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: "
            + time.strftime("%a %b %d %H:%M:%S %Y")
            + " HDF5 schema 1.00 ."
        ).encode()
        block = text.ljust(116) + b"\0" * 8 + b"\x00\x02" + b"IM"
        with open(path, "r+b") as stream:
            stream.write(block)
    return path
