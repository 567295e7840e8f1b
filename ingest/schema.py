"""The `raw` schema of docs/warehouse.md: column names and types, the DDL, and opening the warehouse.

Keys marked PK in the contract are logical keys: ingest keeps them unique (the tests check it), but they are
not declared as DuckDB constraints, because an ART index over a million relative paths costs as much as the
rest of a load, and DuckDB checks such constraints eagerly inside the single transaction of a run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import duckdb
import pyarrow as pa

from mutations.warehouse_lock import in_use_message

from .errors import WarehouseError

DEFAULT_WAREHOUSE = os.path.join("data", "warehouse.duckdb")

# Provenance columns every file-backed raw row carries (warehouse.md). `source_root`, `ingested_at` and
# `ingest_run_id` are constant for a run and added by the loader; workers send the others.
PROVENANCE: tuple[tuple[str, str], ...] = (
    ("source_root", "VARCHAR"),
    ("run", "VARCHAR"),
    ("dbms", "VARCHAR"),
    ("task", "VARCHAR"),
    ("task_id", "INTEGER"),
    ("relative_path", "VARCHAR"),
    ("file_hash", "VARCHAR"),
    ("ingested_at", "TIMESTAMP"),
    ("ingest_run_id", "BIGINT"),
)
RUN_CONSTANTS = ("source_root", "ingested_at", "ingest_run_id")

_RESULT_COLUMNS = (
    ("row_count", "INTEGER"),
    ("columns", "VARCHAR[]"),
    ("column_types", "VARCHAR[]"),
    ("duration", "VARCHAR"),
    ("duration_ms", "DOUBLE"),
    ("error", "VARCHAR"),
)

TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "ingest_runs": (
        ("ingest_run_id", "BIGINT"),
        ("source_root", "VARCHAR"),
        ("started_at", "TIMESTAMP"),
        ("finished_at", "TIMESTAMP"),
        ("files_seen", "BIGINT"),
        ("files_loaded", "BIGINT"),
        ("files_quarantined", "BIGINT"),
        ("files_unchanged", "BIGINT"),
        ("files_vanished", "BIGINT"),
        ("reconciliation", "VARCHAR"),
    ),
    "ingest_files": (
        ("source_root", "VARCHAR"),
        ("relative_path", "VARCHAR"),
        ("run", "VARCHAR"),
        ("dbms", "VARCHAR"),
        ("task", "VARCHAR"),
        ("file_kind", "VARCHAR"),
        ("size", "BIGINT"),
        ("mtime_ns", "BIGINT"),
        ("file_hash", "VARCHAR"),
        ("status", "VARCHAR"),
        ("first_seen_run", "BIGINT"),
        ("last_seen_run", "BIGINT"),
        ("updated_at", "TIMESTAMP"),
    ),
    "bug_reports": PROVENANCE + (
        ("folder", "VARCHAR"),
        ("bug_id", "INTEGER"),
        ("sql_id", "INTEGER"),
        ("mutation_name", "VARCHAR"),
        ("is_upper", "BOOLEAN"),
        ("report_time", "VARCHAR"),
        ("original_sql", "VARCHAR"),
        ("mutated_sql", "VARCHAR"),
        ("pair_hash", "VARCHAR"),
        ("log_relative_path", "VARCHAR"),
        ("log_file_hash", "VARCHAR"),
    ) + tuple((f"original_{name}", typ) for name, typ in _RESULT_COLUMNS)
      + tuple((f"mutated_{name}", typ) for name, typ in _RESULT_COLUMNS)
      + (("is_vanished", "BOOLEAN"),),
    "task_results": PROVENANCE + (
        ("start_time", "VARCHAR"),
        ("ddl_sqls_num", "BIGINT"),
        ("dml_sqls_num", "BIGINT"),
        ("end_init_time", "VARCHAR"),
        ("stage1_err_num", "BIGINT"),
        ("stage1_exec_err_num", "BIGINT"),
        ("stage2_err_num", "BIGINT"),
        ("stage2_unit_num", "BIGINT"),
        ("stage2_unit_err_num", "BIGINT"),
        ("stage2_unit_exec_err_num", "BIGINT"),
        ("impo_bugs_num", "BIGINT"),
        ("save_bug_err_num", "BIGINT"),
        ("end_time", "VARCHAR"),
    ),
    "pool_results": PROVENANCE + (
        ("start_time", "VARCHAR"),
        ("total_task_num", "BIGINT"),
        ("finished_task_num", "BIGINT"),
        ("error_task_num", "BIGINT"),
        ("error_task_ids", "INTEGER[]"),
        ("bugs_num", "BIGINT"),
        ("bug_task_ids", "INTEGER[]"),
        ("end_time", "VARCHAR"),
    ),
    "task_configs": PROVENANCE + (
        ("output_path", "VARCHAR"),
        ("config_dbms", "VARCHAR"),
        ("host", "VARCHAR"),
        ("port", "BIGINT"),
        ("username", "VARCHAR"),
        ("password_removed", "BOOLEAN"),
        ("dbname", "VARCHAR"),
        ("seed", "BIGINT"),
        ("ddl_path", "VARCHAR"),
        ("dml_path", "VARCHAR"),
        ("rd_gen_path", "VARCHAR"),
        ("zz_path", "VARCHAR"),
        ("yy_path", "VARCHAR"),
        ("queries_num", "BIGINT"),
        ("need_dml", "BOOLEAN"),
    ),
    "data_sqls": PROVENANCE + (
        ("content", "VARCHAR"),
        ("sha256", "VARCHAR"),
        ("size", "BIGINT"),
    ),
    "task_log_bugs": PROVENANCE + (
        ("line_number", "INTEGER"),
        ("logged_at", "VARCHAR"),
        ("level", "VARCHAR"),
        ("bug_id", "INTEGER"),
        ("sql_id", "INTEGER"),
        ("mutation_name", "VARCHAR"),
    ),
    "tasks": (
        ("source_root", "VARCHAR"),
        ("run", "VARCHAR"),
        ("dbms", "VARCHAR"),
        ("task", "VARCHAR"),
        ("task_id", "INTEGER"),
        ("relative_path", "VARCHAR"),
        ("has_result", "BOOLEAN"),
        ("finished_in_log", "BOOLEAN"),
        ("folders", "VARCHAR[]"),
        ("ingested_at", "TIMESTAMP"),
        ("ingest_run_id", "BIGINT"),
    ),
    "ingest_quarantine": (
        ("source_root", "VARCHAR"),
        ("relative_path", "VARCHAR"),
        ("run", "VARCHAR"),
        ("dbms", "VARCHAR"),
        ("task", "VARCHAR"),
        ("file_kind", "VARCHAR"),
        ("reason", "VARCHAR"),
        ("file_hash", "VARCHAR"),
        ("ingested_at", "TIMESTAMP"),
        ("ingest_run_id", "BIGINT"),
    ),
    "mutation_verdicts": (
        ("pair_hash", "VARCHAR"),
        ("strategy", "VARCHAR"),
        ("original_sql", "VARCHAR"),
        ("mutated_sql", "VARCHAR"),
        ("conforms", "BOOLEAN"),
        ("is_upper", "BOOLEAN"),
        ("reason", "VARCHAR"),
        ("original_fingerprint", "VARCHAR"),
        ("pair_fingerprint", "VARCHAR"),
        ("checked_at", "TIMESTAMP"),
        ("engine_version", "VARCHAR"),
    ),
    "dataset_configs": (
        ("dataset_name", "VARCHAR"),
        ("strategy", "VARCHAR"),
        ("dbms", "VARCHAR[]"),
        ("quota", "INTEGER"),
        ("max_length", "INTEGER"),
        ("form", "VARCHAR"),
        ("train_ratio", "DOUBLE"),
        ("validation_ratio", "DOUBLE"),
        ("test_ratio", "DOUBLE"),
        ("seed", "BIGINT"),
        ("top_up", "BOOLEAN"),
        ("require_conforming", "BOOLEAN"),
        ("require_executable", "BOOLEAN"),
        ("target", "VARCHAR"),
        ("config_hash", "VARCHAR"),
        ("loaded_at", "TIMESTAMP"),
    ),
    "synthetic_pairs": (
        ("dataset_name", "VARCHAR"),
        ("pair_hash", "VARCHAR"),
        ("dbms", "VARCHAR"),
        ("strategy", "VARCHAR"),
        ("is_upper", "BOOLEAN"),
        ("original_sql", "VARCHAR"),
        ("mutated_sql", "VARCHAR"),
        ("original_sqlsim", "VARCHAR"),
        ("mutated_sqlsim", "VARCHAR"),
        ("source_pair_hash", "VARCHAR"),
        ("source_relative_path", "VARCHAR"),
        ("created_at", "TIMESTAMP"),
    ),
    "validation_runs": (
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
        # validation (issue 4): written by validation/, in this order after executed_at
        ("strategy", "VARCHAR"),
        ("is_upper", "BOOLEAN"),
        ("database_name", "VARCHAR"),
        ("data_sql_hash", "VARCHAR"),
        ("original_column_count", "INTEGER"),
        ("mutated_column_count", "INTEGER"),
        ("original_error_class", "VARCHAR"),
        ("mutated_error_class", "VARCHAR"),
        ("settings_hash", "VARCHAR"),
    ),
    # One row per validation run (validation/, issue 4); ingest only creates it empty.
    "validation_invocations": (
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
    ),
}

# Tables whose rows come from one file each (or several rows per file): a re-read file replaces its rows.
FILE_TABLES = ("bug_reports", "task_results", "pool_results", "task_configs", "data_sqls", "task_log_bugs",
               "ingest_quarantine")

_ARROW = {
    "VARCHAR": pa.string(),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMP": pa.timestamp("us"),
    "VARCHAR[]": pa.list_(pa.string()),
    "INTEGER[]": pa.list_(pa.int32()),
}


def columns(table: str) -> tuple[str, ...]:
    return tuple(name for name, _ in TABLES[table])


def worker_columns(table: str) -> tuple[str, ...]:
    """The columns a worker sends for `table`: everything but the run constants."""
    return tuple(name for name in columns(table) if name not in RUN_CONSTANTS)


def arrow_schema(table: str, names: tuple[str, ...] | None = None) -> pa.Schema:
    types = dict(TABLES[table])
    names = names if names is not None else worker_columns(table)
    return pa.schema([(name, _ARROW[types[name]]) for name in names])


def ddl(table: str) -> str:
    body = ",\n  ".join(f"{name} {typ}" for name, typ in TABLES[table])
    return f"CREATE TABLE IF NOT EXISTS raw.{table} (\n  {body}\n)"


def connect(path: str | os.PathLike[str], *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse (creating its parent folders when writing); WarehouseError with the reason if not."""
    path = os.fspath(path)
    if not read_only:
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
    elif not os.path.exists(path):
        raise WarehouseError(f"no warehouse at {path}: run `python -m ingest load` first")
    try:
        return duckdb.connect(path, read_only=read_only)
    except duckdb.Error as error:
        # Another process holding the file is the common case (a second `make` stage): say so in one line.
        raise WarehouseError(in_use_message(path, error) or f"cannot open the warehouse {path}: {error}") from None


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the `raw` schema and every table of the contract that does not exist yet, and add the columns
    a table of an older warehouse lacks (appended, in the contract's order; rows already there get NULL).
    Idempotent; existing columns and rows are left as they are."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    present: dict[str, set[str]] = {}
    for table, column in con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = 'raw'"
    ).fetchall():
        present.setdefault(table, set()).add(column)
    for table, spec in TABLES.items():
        if table not in present:
            con.execute(ddl(table))
            continue
        for name, typ in spec:
            if name not in present[table]:
                con.execute(f"ALTER TABLE raw.{table} ADD COLUMN IF NOT EXISTS {name} {typ}")


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
