"""Exceptions of the validation package. The library raises them; only the CLI turns them into exit codes."""

from __future__ import annotations


class ValidationError(Exception):
    """Base class: anything that stops a validation step, with a message a user can act on."""


class ServerError(ValidationError):
    """The throwaway server could not be initialised, started or stopped (the message names the log file)."""


class TargetError(ValidationError):
    """A target cannot be used: unknown name, bad DSN, unreachable server or an account that is not read-only."""


class DataSqlError(ValidationError):
    """A task's `output.data.sql` holds something other than CREATE TABLE and INSERT statements."""


class ServerLost(ValidationError):
    """The server went away during a run and did not come back: the run stops, and a rerun continues it."""


class WarehouseError(ValidationError):
    """The warehouse lacks what validation needs (run `make ingest transform` first), or a dataset is unknown."""
