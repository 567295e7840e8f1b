"""The warehouse side of validation: `raw.validation_runs` (append-only) and `raw.validation_invocations`.

Ingest creates both tables empty so dbt can build before anything was validated; validation creates them
too when they are missing and adds columns an older warehouse lacks. The column lists are the contract of
docs/warehouse.md (a test holds ingest's definition to this one).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

__all__ = ["INVOCATION_COLUMNS", "RUN_COLUMNS", "RUN_CONSTANTS", "WORK_COLUMNS", "append_runs", "ensure_tables", "now_utc"]

RUN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("pair_hash", "VARCHAR"),
    ("form", "VARCHAR"),
    ("target", "VARCHAR"),
    ("server_version", "VARCHAR"),
    ("validation_run_id", "BIGINT"),
    ("repeat_index", "INTEGER"),
    ("original_status", "VARCHAR"),
    ("original_error_code", "INTEGER"),
    ("original_error", "VARCHAR"),
    ("original_row_count", "BIGINT"),
    ("original_digest", "VARCHAR"),
    ("original_duration_ms", "DOUBLE"),
    ("mutated_status", "VARCHAR"),
    ("mutated_error_code", "INTEGER"),
    ("mutated_error", "VARCHAR"),
    ("mutated_row_count", "BIGINT"),
    ("mutated_digest", "VARCHAR"),
    ("mutated_duration_ms", "DOUBLE"),
    ("oracle", "VARCHAR"),
    ("executed_at", "TIMESTAMP"),
    ("strategy", "VARCHAR"),
    ("is_upper", "BOOLEAN"),
    ("database_name", "VARCHAR"),
    ("data_sql_hash", "VARCHAR"),
    ("original_column_count", "INTEGER"),
    ("mutated_column_count", "INTEGER"),
    ("original_error_class", "VARCHAR"),
    ("mutated_error_class", "VARCHAR"),
    ("settings_hash", "VARCHAR"),
)

INVOCATION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("validation_run_id", "BIGINT"),
    ("target", "VARCHAR"),
    ("server_name", "VARCHAR"),
    ("server_version", "VARCHAR"),
    ("endpoint", "VARCHAR"),
    ("scope", "VARCHAR"),
    ("settings_hash", "VARCHAR"),
    ("repeats", "INTEGER"),
    ("statement_timeout_s", "DOUBLE"),
    ("row_cap", "BIGINT"),
    ("jobs", "INTEGER"),
    ("started_at", "TIMESTAMP"),
    ("finished_at", "TIMESTAMP"),
    ("status", "VARCHAR"),
    ("pair_forms_planned", "BIGINT"),
    ("pair_forms_skipped", "BIGINT"),
    ("pair_forms_done", "BIGINT"),
    ("statements_executed", "BIGINT"),
    ("statements_refused", "BIGINT"),
    ("message", "VARCHAR"),
)

_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMP": pa.timestamp("us"),
}
_TYPES = dict(RUN_COLUMNS)
# Columns the same for every row of a run; the runner sends the others (WORK_COLUMNS) as plain tuples,
# which cost a fraction of dicts to pickle between processes.
RUN_CONSTANTS = ("target", "server_version", "validation_run_id", "settings_hash")
WORK_COLUMNS = tuple(name for name, _ in RUN_COLUMNS if name not in RUN_CONSTANTS)


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the two tables if missing; add the columns an older warehouse's tables lack."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    for table, columns in (("validation_runs", RUN_COLUMNS), ("validation_invocations", INVOCATION_COLUMNS)):
        definition = ", ".join(f"{name} {kind}" for name, kind in columns)
        con.execute(f"CREATE TABLE IF NOT EXISTS raw.{table} ({definition})")
        present = {
            row[0]
            for row in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = ?",
                [table],
            ).fetchall()
        }
        for name, kind in columns:
            if name not in present:
                con.execute(f"ALTER TABLE raw.{table} ADD COLUMN {name} {kind}")


def append_runs(con: duckdb.DuckDBPyConnection, rows: Sequence[tuple], constants: dict) -> None:
    """Append log rows (tuples in WORK_COLUMNS order, as the runner makes them) with the run's constants."""
    if not rows:
        return
    batch = pa.Table.from_arrays([pa.array(values, type=_ARROW_TYPES[_TYPES[name]])
                                  for name, values in zip(WORK_COLUMNS, zip(*rows))], names=list(WORK_COLUMNS))
    con.register("validation_batch", batch)
    try:
        names = ", ".join(name for name, _ in RUN_COLUMNS)
        values = ", ".join(f"CAST(? AS {_TYPES[name]})" if name in RUN_CONSTANTS else name for name, _ in RUN_COLUMNS)
        con.execute(f"INSERT INTO raw.validation_runs ({names}) SELECT {values} FROM validation_batch",
                    [constants[name] for name, _ in RUN_COLUMNS if name in RUN_CONSTANTS])
    finally:
        con.unregister("validation_batch")
