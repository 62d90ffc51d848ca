"""The package version, from the installed distribution's metadata (pyproject.toml)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("scdeepclust")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.2.0"
