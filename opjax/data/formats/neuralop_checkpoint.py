"""Read neuraloperator checkpoints (``save_checkpoint`` folders) as numpy arrays and kwargs.

neuraloperator's ``model.save_checkpoint(folder, name)`` writes two ``torch.save`` files:

* ``{name}_state_dict.pt``: the tensors (plus ``_metadata``, a copy of the kwargs);
* ``{name}_metadata.pkl``: the constructor kwargs, with ``_name`` (``"FNO"``/``"TFNO"``),
  ``_version`` and ``args`` (positional arguments).

Both are read without PyTorch and without running pickled code, with the unpickler of
:mod:`opjax.data.formats.torch_archive` (or, for a plain pickle, one that resolves no
tensor names), which here also resolves ``torch.Size`` (as a tuple) and, as inert
:class:`GlobalName` values that are never called, the activation functions and
``SpectralConv`` class neuraloperator stores in the kwargs. Any other global is refused
with :class:`~opjax.data.formats.torch_archive.UnsafePickleError` naming it.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from opjax.data.errors import DataFormatError
from opjax.data.formats.torch_archive import (
    ArchiveUnpickler,
    UnsafePickleError,
    unpickle_archive,
)

STATE_DICT_SUFFIX = "_state_dict.pt"
METADATA_SUFFIX = "_metadata.pkl"


class GlobalName(NamedTuple):
    """A global named in a pickle, kept as its name; never called (calling it fails)."""

    module: str
    name: str

    def __str__(self) -> str:
        return f"{self.module}.{self.name}"


#: The GELU activation, under both names torch pickles it by.
GELU = (GlobalName("torch._C._nn", "gelu"), GlobalName("torch.nn.functional", "gelu"))
#: neuraloperator's spectral convolution class (``FNO``'s ``conv_module``).
SPECTRAL_CONV = GlobalName("neuralop.layers.spectral_convolution", "SpectralConv")
_NAMED_GLOBALS = [
    *GELU,
    SPECTRAL_CONV,
    *(
        GlobalName(module, name)
        for module in ("torch.nn.functional", "torch._C._nn", "torch")
        for name in ("relu", "silu", "tanh", "sigmoid", "elu", "leaky_relu", "softplus", "mish")
    ),
]
_INERT_GLOBALS: dict[tuple[str, str], Any] = {
    ("torch", "Size"): tuple,
    **{(g.module, g.name): g for g in _NAMED_GLOBALS},
}


def _refusal(path: str, module: str, name: str) -> UnsafePickleError:
    return UnsafePickleError(
        f"{path}: the pickle asks for the global {module}.{name}, which is not a tensor, a "
        "plain value or one of the names neuraloperator stores in its kwargs; refusing to "
        "load it (nothing in the file was run)"
    )


class _ArchiveMetadataUnpickler(ArchiveUnpickler):
    inert_globals = _INERT_GLOBALS

    def refusal(self, module: str, name: str) -> UnsafePickleError:
        return _refusal(self._path, module, name)


class _PlainMetadataUnpickler(pickle.Unpickler):
    """A plain pickle (no storages): only the inert globals resolve."""

    def __init__(self, data: bytes, path: str):
        super().__init__(io.BytesIO(data))
        self._path = path

    def find_class(self, module: str, name: str):
        if (module, name) not in _INERT_GLOBALS:
            raise _refusal(self._path, module, name)
        return _INERT_GLOBALS[(module, name)]

    def persistent_load(self, pid):
        raise DataFormatError(f"{self._path}: a plain pickle with a persistent id {pid!r}")


def load_neuralop_pickle(path: str | os.PathLike) -> Any:
    """Load a ``torch.save`` archive (or a plain pickle) written by neuraloperator.

    Tensors become numpy arrays; the globals listed in the module docstring become inert
    :class:`GlobalName` values.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        UnsafePickleError: the pickle names any other global (the message names it).
        DataFormatError: the file is corrupt or not a pickle.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return unpickle_archive(archive, path, _ArchiveMetadataUnpickler)
        with open(path, "rb") as f:
            return _PlainMetadataUnpickler(f.read(), path).load()
    except DataFormatError:
        raise
    except (
        zipfile.BadZipFile,
        EOFError,
        pickle.UnpicklingError,
        AttributeError,
        IndexError,
        KeyError,
        TypeError,
        ValueError,
    ) as err:
        raise DataFormatError(f"{path}: corrupt or unsupported pickle ({err!r})") from err


class NeuralopCheckpoint(NamedTuple):
    """A neuraloperator checkpoint as read from disk: ``metadata`` holds the constructor
    kwargs, ``state`` maps tensor names to numpy arrays (without ``_metadata``)."""

    name: str
    state_path: Path
    metadata_path: Path
    metadata: dict
    state: dict


def find_checkpoint(path_or_dir: str | os.PathLike, name: str | None = None) -> tuple[Path, str]:
    """The folder and save name of a checkpoint given its folder (and name) or either file."""
    path = Path(path_or_dir)
    if path.is_file():
        for suffix in (STATE_DICT_SUFFIX, METADATA_SUFFIX):
            if path.name.endswith(suffix):
                return path.parent, path.name[: -len(suffix)]
        raise FileNotFoundError(
            f"{path} is neither a '*{STATE_DICT_SUFFIX}' nor a '*{METADATA_SUFFIX}' file"
        )
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such checkpoint file or folder")
    if name is not None:
        return path, name
    states = {p.name[: -len(STATE_DICT_SUFFIX)] for p in path.glob(f"*{STATE_DICT_SUFFIX}")}
    metas = {p.name[: -len(METADATA_SUFFIX)] for p in path.glob(f"*{METADATA_SUFFIX}")}
    names = sorted(states & metas)
    if not names:
        raise FileNotFoundError(
            f"{path} holds no neuraloperator checkpoint (a pair NAME{STATE_DICT_SUFFIX}, "
            f"NAME{METADATA_SUFFIX} as written by model.save_checkpoint)"
        )
    if len(names) > 1:
        raise ValueError(f"{path} holds several checkpoints {names}; choose one with name=")
    return path, names[0]


def read_checkpoint(path_or_dir: str | os.PathLike, name: str | None = None) -> NeuralopCheckpoint:
    """Read the metadata and the state dict of a checkpoint (see :func:`find_checkpoint`)."""
    folder, name = find_checkpoint(path_or_dir, name)
    state_path = folder / f"{name}{STATE_DICT_SUFFIX}"
    metadata_path = folder / f"{name}{METADATA_SUFFIX}"
    for p in (state_path, metadata_path):
        if not p.is_file():
            raise FileNotFoundError(f"{p}: missing (checkpoint {name!r} in {folder})")
    metadata = load_neuralop_pickle(metadata_path)
    if not isinstance(metadata, dict):
        raise DataFormatError(
            f"{metadata_path}: expected a dict of constructor kwargs, got {type(metadata)}"
        )
    state = load_neuralop_pickle(state_path)
    if not isinstance(state, Mapping):
        raise DataFormatError(f"{state_path}: expected a state dict, got {type(state)}")
    state = {k: v for k, v in state.items() if k != "_metadata"}
    for key, value in state.items():
        if not isinstance(value, np.ndarray):
            raise DataFormatError(f"{state_path}: entry {key!r} is not a tensor")
    return NeuralopCheckpoint(name, state_path, metadata_path, metadata, state)
