"""pinoloft's front door: the `pinoloft` command (see `pinoloft --help`)."""

from __future__ import annotations

from pinoloft_base.cli import pinoloft_version

__version__ = pinoloft_version()
