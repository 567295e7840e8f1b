"""The warehouse side of validation: `raw.validation_runs` (append-only) and `raw.validation_invocations`.

Both tables are defined once, with the rest of `raw`, in `pinoloft_base.schema` (the contract of
docs/warehouse.md): ingest creates them empty so dbt can build before anything was validated, and validation
creates them too when they are missing and adds the columns an older warehouse lacks (`ensure_tables`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from pinoloft_base.schema import RAW_TABLES
from pinoloft_base.warehouse import ensure_schema

__all__ = ["INVOCATION_COLUMNS", "RUN_COLUMNS", "RUN_CONSTANTS", "WORK_COLUMNS", "LogBatch", "append_batches",
           "append_runs", "ensure_tables", "log_batch", "now_utc"]

RUN_COLUMNS: tuple[tuple[str, str], ...] = RAW_TABLES["validation_runs"]
INVOCATION_COLUMNS: tuple[tuple[str, str], ...] = RAW_TABLES["validation_invocations"]

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
    # Each column goes as one list parameter, unnested side by side (DuckDB zips the lists position by
    # position, so the rows keep their order). Not a pyarrow table: pyarrow's first conversion of a Python
    # list imports pandas (a third of a second of CPU, in the middle of a run) only to find it is no pandas
    # object.
    columns = dict(zip(WORK_COLUMNS, map(list, zip(*rows))))
    con.execute(_INSERT_RUNS, [constants[name] if name in RUN_CONSTANTS else columns[name] for name, _ in RUN_COLUMNS])


_INSERT_RUNS = (
    f"INSERT INTO raw.validation_runs ({', '.join(name for name, _ in RUN_COLUMNS)}) SELECT "
    + ", ".join(f"CAST(? AS {kind})" if name in RUN_CONSTANTS else f"unnest(CAST(? AS {kind}[]))"
                for name, kind in RUN_COLUMNS)
)


_TYPES = dict(RUN_COLUMNS)
_PAIR_HASH, _FORM = WORK_COLUMNS.index("pair_hash"), WORK_COLUMNS.index("form")
_ORIGINAL_STATUS, _MUTATED_STATUS = WORK_COLUMNS.index("original_status"), WORK_COLUMNS.index("mutated_status")


@dataclass(slots=True)
class LogBatch:
    """Log rows of finished pair-forms on their way to the warehouse, with what the run's counters need:
    `data` is the rows as tuples (WORK_COLUMNS order) or, made in a worker process, an Arrow table of them."""

    data: Any
    rows: int
    pair_forms: set[tuple[str, str]]  # (pair_hash, form) of the rows
    executed: int  # statements executed (neither refused nor without a database)
    refused: int

    def __reduce__(self) -> tuple:
        # A worker's batch crosses to the writing process pickled. An Arrow table goes as one Arrow IPC stream:
        # written and read back in one call each, a seventh of the CPU of pickling the table (its columns and
        # buffers one by one: measured 4.4 against 0.9 µs per row, both sides together). Same table after.
        if isinstance(self.data, list):
            return LogBatch, (self.data, self.rows, self.pair_forms, self.executed, self.refused)
        return _batch_from_ipc, (_ipc_bytes(self.data), self.rows, self.pair_forms, self.executed, self.refused)


def _ipc_bytes(table: Any) -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _batch_from_ipc(data: bytes, rows: int, pair_forms: set[tuple[str, str]], executed: int, refused: int) -> LogBatch:
    import pyarrow as pa

    return LogBatch(pa.ipc.open_stream(data).read_all(), rows, pair_forms, executed, refused)


def log_batch(rows: Sequence[tuple], *, as_table: bool = False) -> LogBatch:
    """The batch of `rows` (tuples in WORK_COLUMNS order). `as_table` converts them to Arrow here: what a
    worker process does, so the process that writes the warehouse only hands a table to DuckDB. Never in a
    process that may use pandas later: pyarrow's first conversion of a Python list imports pandas, and the
    workers keep it from doing so (see run._start_worker)."""
    statuses = [row[_ORIGINAL_STATUS] for row in rows] + [row[_MUTATED_STATUS] for row in rows]
    refused = statuses.count("refused")
    executed = len(statuses) - refused - statuses.count("no_database")
    data: Any = rows
    if as_table and rows:
        import pyarrow as pa  # (imported already by the process that forked the worker)

        data = pa.Table.from_arrays([pa.array(values, type=_arrow_type(_TYPES[name]))
                                     for name, values in zip(WORK_COLUMNS, zip(*rows))], names=list(WORK_COLUMNS))
    return LogBatch(data, len(rows), {(row[_PAIR_HASH], row[_FORM]) for row in rows}, executed, refused)


def _arrow_type(kind: str):
    import pyarrow as pa

    return {"VARCHAR": pa.string(), "INTEGER": pa.int32(), "BIGINT": pa.int64(), "DOUBLE": pa.float64(),
            "BOOLEAN": pa.bool_(), "TIMESTAMP": pa.timestamp("us")}[kind]


def append_batches(con: duckdb.DuckDBPyConnection, batches: Sequence[LogBatch], constants: dict) -> None:
    """Append the batches' rows, in order, with the run's constants."""
    tuples: list[tuple] = []
    tables: list[Any] = []
    for batch in batches:
        if not batch.rows:
            continue
        if isinstance(batch.data, list):
            if tables:  # keep the order of a mix (one run makes only one kind)
                _append_tables(con, tables, constants)
                tables = []
            tuples.extend(batch.data)
        else:
            if tuples:
                append_runs(con, tuples, constants)
                tuples = []
            tables.append(batch.data)
    if tuples:
        append_runs(con, tuples, constants)
    if tables:
        _append_tables(con, tables, constants)


_INSERT_TABLE = (
    f"INSERT INTO raw.validation_runs ({', '.join(name for name, _ in RUN_COLUMNS)}) SELECT "
    + ", ".join(f"CAST(? AS {kind})" if name in RUN_CONSTANTS else name for name, kind in RUN_COLUMNS)
    + " FROM validation_batch"
)


def _append_tables(con: duckdb.DuckDBPyConnection, tables: list[Any], constants: dict) -> None:
    import pyarrow as pa

    con.register("validation_batch", pa.concat_tables(tables) if len(tables) > 1 else tables[0])
    try:
        con.execute(_INSERT_TABLE, [constants[name] for name, _ in RUN_COLUMNS if name in RUN_CONSTANTS])
    finally:
        con.unregister("validation_batch")
