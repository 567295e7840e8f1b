"""pinoloft's front door: the `pinoloft` command (see `pinoloft --help`)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pinoloft")
except PackageNotFoundError:  # run from a checkout that was never installed
    __version__ = "0+unknown"
