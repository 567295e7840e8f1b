"""The errors every package builds on, and the exit code each kind of failure gives on the command line.

A library raises; only the CLI runner (`pinoloft_base.cli.run`) turns an error into a message and an exit
code. Each package's own base error subclasses `PinoloftError` and says its `exit_code` there, so every
command of the project agrees on what a code means (the table is `pinoloft_base.cli.EXIT_CODES`).
"""

from __future__ import annotations

__all__ = [
    "EXIT_FINDINGS", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_SERVICE", "EXIT_USAGE", "EXIT_WAREHOUSE_BUSY",
    "PinoloftError", "ServiceFailure", "WarehouseBusyError", "WarehouseError",
]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_WAREHOUSE_BUSY = 3
EXIT_SERVICE = 4
EXIT_INTERRUPTED = 130


class PinoloftError(Exception):
    """Base class of every error our libraries raise on purpose: a message a user can act on.

    `exit_code` is what the command line exits with; by default a usage or input error (the user can fix
    the option, the path or the file the message names)."""

    exit_code: int = EXIT_USAGE


class WarehouseError(PinoloftError):
    """The warehouse cannot be opened or lacks what a step needs (no file at the path, not a DuckDB file, a
    schema not built yet)."""


class WarehouseBusyError(WarehouseError):
    """Another process holds the warehouse for writing (DuckDB allows one writer): wait for it, then rerun."""

    exit_code = EXIT_WAREHOUSE_BUSY


class ServiceFailure(PinoloftError):
    """A service outside this process failed or refused: the fine-tuning API, the database server, a model
    server. The step can be rerun once the service is back."""

    exit_code = EXIT_SERVICE
