"""The installed package's version, from its metadata (pyproject.toml is the one place it is set)."""

from importlib import metadata

try:
    __version__ = metadata.version("jscale")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree that is not installed
    __version__ = "0+unknown"
