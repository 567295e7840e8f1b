"""Opening the warehouse for validation: a WarehouseError a user can act on instead of DuckDB's exception."""

from __future__ import annotations

from pathlib import Path

import duckdb

from mutations.warehouse_lock import in_use_message

from .errors import WarehouseError

__all__ = ["open_warehouse"]


def open_warehouse(path: str | Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse; WarehouseError when another process holds it (one line naming the file
    and, when DuckDB says it, the holder's PID) or it cannot be opened at all."""
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as error:
        raise WarehouseError(in_use_message(path, error) or f"cannot open the warehouse {path}: {error}") from None
