"""Exceptions the ingest library raises on purpose; only a command line turns them into exit codes.

Every one is a `PinoloftError` and carries the exit code of the project's table (`pinoloft_base.cli.EXIT_CODES`):
what the user can fix (a path, a config, a dataset name, the order of the steps) is a usage or input error (2);
a load whose own count does not reconcile is a finding (1). The warehouse's errors are the base floor's
`WarehouseError` (2) and `WarehouseBusyError` (3), re-exported here for the callers that catch them from ingest.
"""

from __future__ import annotations

from pinoloft_base.errors import EXIT_FINDINGS, EXIT_USAGE, PinoloftError, WarehouseBusyError, WarehouseError

__all__ = [
    "DatasetConfigError", "IngestError", "ReconciliationError", "SourceError", "StepOrderError",
    "UnknownDatasetError", "WarehouseBusyError", "WarehouseError",
]


class IngestError(PinoloftError):
    """Base class: something the user can fix (a path, a config, the order of the steps, an option's value)."""

    exit_code = EXIT_USAGE


class SourceError(IngestError):
    """The root given to `load` is missing or holds no PINOLO task pool or task directory."""


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


class ReconciliationError(IngestError):
    """A load whose files do not add up (seen != loaded + quarantined + unchanged): the run found something
    wrong in its own bookkeeping, so nothing was committed. Not the user's input: a finding to report."""

    exit_code = EXIT_FINDINGS
