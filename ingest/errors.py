"""Exceptions the ingest library raises on purpose; only `ingest.cli` turns them into exit codes."""

from __future__ import annotations


class IngestError(Exception):
    """Base class: something the user can fix (a path, a config, the order of the steps)."""


class SourceError(IngestError):
    """The root given to `load` is missing or holds no PINOLO task pool or task directory."""


class WarehouseError(IngestError):
    """The warehouse file cannot be opened for writing (locked by another process, not a DuckDB file…)."""


class DatasetConfigError(IngestError):
    """A `datasets/*.yml` file that does not validate; the message names the file and the key."""

    def __init__(self, path: str, key: str | None, message: str) -> None:
        self.path = path
        self.key = key
        where = f"{path}: key {key!r}" if key else path
        super().__init__(f"{where}: {message}")


class UnknownDatasetError(IngestError):
    """A dataset name that no config of the dataset folder defines (a usage error: the message lists the known)."""


class StepOrderError(IngestError):
    """A step that needs an earlier one (e.g. `synthesize` before `check` or `datasets`)."""
