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


def connect(path: str | os.PathLike[str], *, read_only: bool = False,
            row_group_size: int | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse. For writing, its parent folders are made and the file is created when missing;
    read-only, a missing file is a WarehouseError. Another process writing it is a WarehouseBusyError.

    `row_group_size` (writing only; a multiple of 2048): the rows per row group of what this connection
    appends, instead of DuckDB's 122,880. A storage setting of this connection alone (DuckDB does not keep
    it in the file): the rows are the same. Ingest uses it so that, with `write_buffer_row_group_count = 1`,
    each full row group is compressed and written while its workers still read, not all at the commit.
    """
    path = os.fspath(path)
    if read_only and not os.path.isfile(path):
        raise WarehouseError(f"no warehouse at {path}: build it with `make demo` or `make ingest transform` "
                             "(or give --warehouse)")
    if not read_only:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    try:
        if row_group_size is None or read_only:
            return duckdb.connect(path, read_only=read_only)
        return _attach(path, row_group_size)
    except duckdb.Error as error:
        busy = in_use_message(path, error)
        if busy:
            raise WarehouseBusyError(busy) from None
        mode = "read-only" if read_only else "for writing"
        raise WarehouseError(f"cannot open the warehouse {path} {mode}: {error}") from None


# Catalog names DuckDB keeps for itself: a warehouse file named so is attached under another name.
_RESERVED_CATALOGS = {"memory", "system", "temp", "main"}


def _attach(path: str, row_group_size: int) -> duckdb.DuckDBPyConnection:
    """`duckdb.connect(path)` with a row group size: the option exists only for ATTACH, so the file is
    attached to an in-memory connection, under the name `connect` would give it (its file name without
    the extension), and made the default catalog."""
    if row_group_size < 2048 or row_group_size % 2048:
        raise WarehouseError(f"row_group_size must be a positive multiple of 2048, got {row_group_size}")
    name = os.path.splitext(os.path.basename(path))[0]
    if not name or name.lower() in _RESERVED_CATALOGS:
        name = "warehouse"
    quoted_name = name.replace('"', '""')
    con = duckdb.connect()
    try:
        # Where a file connection would spill (`<file>.tmp`), not an in-memory one's `.tmp` in the working folder.
        con.execute(f"SET temp_directory = '{(path + '.tmp').replace(chr(39), chr(39) * 2)}'")
        con.execute(f"ATTACH '{path.replace(chr(39), chr(39) * 2)}' AS \"{quoted_name}\" "
                    f"(ROW_GROUP_SIZE {int(row_group_size)})")
        con.execute(f'USE "{quoted_name}"')
    except BaseException:
        con.close()
        raise
    return con


@contextmanager
def write_transaction(path: str | os.PathLike[str], *, setup: Sequence[str] = (),
                      row_group_size: int | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writing connection inside one transaction: committed when the block ends normally, rolled back on
    any exception (Ctrl-C included) so the warehouse stays as it was, and always closed.

    `setup` statements (e.g. SET memory_limit) run before the transaction starts; `row_group_size`: see
    `connect`.
    """
    con = connect(path, row_group_size=row_group_size)
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
