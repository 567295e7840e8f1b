"""The `finetune` schema of the warehouse: uploaded files, jobs, their snapshots, events, metrics,
checkpoints and result files, the models evaluation reads, experiments, and the evaluation's runs, cache,
predictions and metrics.

The tables are defined once, in `pinoloft_base.schema` (FINETUNE_TABLES, keys in FINETUNE_KEYS), and made
by `pinoloft_base.warehouse.ensure_schema`, which only adds: a warehouse built by an older version keeps its
tables and rows and gains the columns it lacks. Every write opens the warehouse, writes in one transaction
(the base floor's `write_transaction`, as every stage does) and closes it again, so a job watched for hours
never holds DuckDB's single write lock between polls (ad-hoc SQL and other stages can run meanwhile).
Writes are idempotent: keyed rows are replaced, events are inserted once.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import duckdb

from pinoloft_base.warehouse import connect, ensure_schema, write_transaction

__all__ = ["Store", "now_utc"]


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def timestamp(seconds: int | float | None) -> datetime | None:
    """A service's Unix time as a naive UTC timestamp."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).replace(tzinfo=None)


class Store:
    """The finetune tables of one warehouse file."""

    def __init__(self, warehouse: str | Path) -> None:
        self.path = Path(warehouse)
        with self.transaction() as con:  # `connect` makes the parent folders of a new file
            ensure_schema(con, "finetune")

    def transaction(self):
        """A writing connection in one transaction, committed at the end of the block, rolled back on any
        exception (Ctrl-C included), always closed: the base floor's, so every stage writes the same way."""
        return write_transaction(self.path)

    def query(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple]:
        con = connect(self.path, read_only=True)
        try:
            return con.execute(sql, list(parameters)).fetchall()
        finally:
            con.close()

    @staticmethod
    def upsert(con: duckdb.DuckDBPyConnection, table: str, row: dict[str, Any]) -> None:
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        con.execute(f"INSERT OR REPLACE INTO finetune.{table} ({names}) VALUES ({marks})", list(row.values()))

    @staticmethod
    def insert_new(con: duckdb.DuckDBPyConnection, table: str, rows: Sequence[dict[str, Any]]) -> int:
        """Insert rows whose key is not there yet; the number inserted."""
        if not rows:
            return 0
        names = ", ".join(rows[0])
        marks = ", ".join("?" for _ in rows[0])
        before = con.execute(f"SELECT count(*) FROM finetune.{table}").fetchall()[0][0]
        con.executemany(f"INSERT OR IGNORE INTO finetune.{table} ({names}) VALUES ({marks})",
                        [list(row.values()) for row in rows])
        return con.execute(f"SELECT count(*) FROM finetune.{table}").fetchall()[0][0] - before


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
