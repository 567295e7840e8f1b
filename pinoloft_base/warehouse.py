"""Opening the DuckDB warehouse, the one write transaction, and creating the Python-owned schemas.

DuckDB lets one process write a database file, or several read it. Every stage opens the file here, so a
second writer, a missing file or a file that is not DuckDB's all end in the same `WarehouseError` with a
message a user can act on. Writes go through `write_transaction`: all of a step or nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import duckdb

from .errors import WarehouseBusyError, WarehouseError
from .schema import FINETUNE_KEYS, FINETUNE_TABLES, RAW_TABLES

__all__ = [
    "DEFAULT_WAREHOUSE", "SCHEMAS", "columns", "connect", "create_table_sql", "ensure_schema", "in_use_message",
    "write_transaction",
]

DEFAULT_WAREHOUSE = os.path.join("data", "warehouse.duckdb")

# The schemas Python writes (dbt owns staging, intermediate and marts): name -> its tables.
SCHEMAS: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {"raw": RAW_TABLES, "finetune": FINETUNE_TABLES}
_KEYS: dict[str, dict[str, tuple[str, ...]]] = {"raw": {}, "finetune": FINETUNE_KEYS}

_LOCK_CONFLICT = "Could not set lock on file"
_HOLDER_PID = re.compile(r"Conflicting lock is held in .*\(PID (\d+)\)")


def in_use_message(path: str | os.PathLike[str], error: BaseException) -> str | None:
    """`the warehouse PATH is in use by another process (PID N); wait for it or close it` when `error` is
    DuckDB's lock conflict (the PID only when DuckDB names it), else None."""
    text = str(error)
    if _LOCK_CONFLICT not in text:
        return None
    holder = _HOLDER_PID.search(text)
    pid = f" (PID {holder.group(1)})" if holder else ""
    return f"the warehouse {os.fspath(path)} is in use by another process{pid}; wait for it or close it"


def connect(path: str | os.PathLike[str], *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse. For writing, its parent folders are made and the file is created when missing;
    read-only, a missing file is a WarehouseError. Another process writing it is a WarehouseBusyError."""
    path = os.fspath(path)
    if read_only and not os.path.isfile(path):
        raise WarehouseError(f"no warehouse at {path}: build it with `make demo` or `make ingest transform` "
                             "(or give --warehouse)")
    if not read_only:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    try:
        return duckdb.connect(path, read_only=read_only)
    except duckdb.Error as error:
        busy = in_use_message(path, error)
        if busy:
            raise WarehouseBusyError(busy) from None
        mode = "read-only" if read_only else "for writing"
        raise WarehouseError(f"cannot open the warehouse {path} {mode}: {error}") from None


@contextmanager
def write_transaction(path: str | os.PathLike[str], *, setup: Sequence[str] = ()) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writing connection inside one transaction: committed when the block ends normally, rolled back on
    any exception (Ctrl-C included) so the warehouse stays as it was, and always closed.

    `setup` statements (e.g. SET memory_limit) run before the transaction starts.
    """
    con = connect(path)
    try:
        for statement in setup:
            con.execute(statement)
        con.execute("BEGIN TRANSACTION")
        yield con
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass  # nothing to roll back (e.g. BEGIN itself failed); the original error matters
        raise
    finally:
        con.close()


def columns(schema: str, table: str) -> tuple[str, ...]:
    """The column names of `schema.table`, in the contract's order."""
    return tuple(name for name, _ in SCHEMAS[schema][table])


def create_table_sql(schema: str, table: str) -> str:
    body = [f"{name} {kind}" for name, kind in SCHEMAS[schema][table]]
    key = _KEYS[schema].get(table)
    if key:
        body.append(f"PRIMARY KEY ({', '.join(key)})")
    return f"CREATE TABLE IF NOT EXISTS {schema}.{table} (\n  " + ",\n  ".join(body) + "\n)"


def ensure_schema(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    """Create `schema` and every table of it that does not exist yet, and add the columns a table of an
    older warehouse lacks (appended in the contract's order; rows already there get NULL). Idempotent:
    existing columns and rows are left as they are."""
    tables = SCHEMAS[schema]
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    present: dict[str, set[str]] = {}
    for table, column in con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = ?", [schema]
    ).fetchall():
        present.setdefault(table, set()).add(column)
    for table, spec in tables.items():
        if table not in present:
            con.execute(create_table_sql(schema, table))
            continue
        for name, kind in spec:
            if name not in present[table]:
                con.execute(f"ALTER TABLE {schema}.{table} ADD COLUMN IF NOT EXISTS {name} {kind}")
