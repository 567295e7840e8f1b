"""Helpers of the ingest tests: read a warehouse back, list a tree's files."""

from __future__ import annotations

from pathlib import Path

import duckdb

from mutations.formats import MANIFEST_NAME
from pinoloft_base.schema import RAW_TABLES


def rows(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def scalar(warehouse: Path, sql: str, params: list | None = None):
    return rows(warehouse, sql, params)[0][0]


def snapshot(warehouse: Path) -> dict[str, list[tuple]] | None:
    """Every raw table's rows, sorted (None when the warehouse has no raw schema)."""
    if not warehouse.exists():
        return None
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        present = {name for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'").fetchall()}
        if not present:
            return None
        return {table: sorted(con.execute(f"SELECT * FROM raw.{table}").fetchall(), key=repr)
                for table in RAW_TABLES if table in present}
    finally:
        con.close()


def report_files(root: Path) -> list[Path]:
    return sorted(p for folder in ("bugs", "maystable", "unstable", "sqlsim")
                  for p in root.glob(f"**/task-*/{folder}/*") if p.is_file())


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST_NAME)
