"""Protective-order exchange engine: court CMS orders to the state DOJ registry, in time."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("po-engine")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0+source"

__all__ = ["__version__"]
