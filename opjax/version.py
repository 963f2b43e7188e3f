"""The installed opjax's version, from its package metadata (``pyproject.toml``)."""

from importlib.metadata import version

__version__ = version("opjax")
