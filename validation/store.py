"""The warehouse side of validation: `raw.validation_runs` (append-only) and `raw.validation_invocations`.

Both tables are defined once, with the rest of `raw`, in `pinoloft_base.schema` (the contract of
docs/warehouse.md): ingest creates them empty so dbt can build before anything was validated, and validation
creates them too when they are missing and adds the columns an older warehouse lacks (`ensure_tables`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from pinoloft_base.schema import RAW_TABLES
from pinoloft_base.warehouse import ensure_schema

__all__ = ["INVOCATION_COLUMNS", "RUN_COLUMNS", "RUN_CONSTANTS", "WORK_COLUMNS", "append_runs", "ensure_tables", "now_utc"]

RUN_COLUMNS: tuple[tuple[str, str], ...] = RAW_TABLES["validation_runs"]
INVOCATION_COLUMNS: tuple[tuple[str, str], ...] = RAW_TABLES["validation_invocations"]

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
    """Create the validation tables if missing and add the columns an older warehouse's tables lack: the
    whole `raw` schema goes through the one DDL, so validation and ingest can never build it differently."""
    ensure_schema(con, "raw")


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
