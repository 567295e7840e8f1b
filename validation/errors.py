"""Exceptions of the validation package. The library raises them; only the CLI turns them into exit codes.

Each class says its exit code (the table is `pinoloft_base.cli.EXIT_CODES`): what the user can fix in an
option, a target, a DSN or the data is 2; a database server that fails, refuses or goes away is 4 (an outside
service: rerun once it is back).
"""

from __future__ import annotations

from pinoloft_base.errors import PinoloftError, ServiceFailure, WarehouseError

__all__ = ["DataSqlError", "ServerError", "ServerLost", "TargetError", "TargetUnreachable", "ValidationError",
           "WarehouseError"]


class ValidationError(PinoloftError):
    """Base class: anything that stops a validation step, with a message a user can act on (a bad setting: 2)."""


class ServerError(ValidationError, ServiceFailure):
    """The throwaway server could not be initialised, started or stopped (the message names the log file)."""


class TargetError(ValidationError):
    """A target cannot be used as given: unknown name, bad DSN, an account that is not read-only or lacks a
    grant, a session setting the server refuses."""


class TargetUnreachable(TargetError, ServiceFailure):
    """The server a target names does not accept our connection (down, unreachable, or refusing the login)."""


class DataSqlError(ValidationError):
    """A task's `output.data.sql` holds something other than CREATE TABLE and INSERT statements, or the
    server rejects one of them."""


class ServerLost(ValidationError, ServiceFailure):
    """The server went away during a run and did not come back: the run stops, and a rerun continues it."""
