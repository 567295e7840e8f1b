"""What ingest needs of the `raw` schema beyond its DDL: the tables its workers fill file by file, and the
Arrow schemas of the rows they send.

The DDL itself (column names and types, in the contract's order) is the base floor's
`pinoloft_base.schema.RAW_TABLES`; the warehouse is opened and the schema created with
`pinoloft_base.warehouse` (`connect`, `write_transaction`, `ensure_schema(con, "raw")`).
"""

from __future__ import annotations

import pyarrow as pa

from pinoloft_base.schema import RAW_TABLES, RUN_CONSTANTS
from pinoloft_base.warehouse import columns as schema_columns

__all__ = ["FILE_TABLES", "arrow_schema", "columns", "worker_columns"]

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
    """The columns of `raw.<table>`, in the contract's order."""
    return schema_columns("raw", table)


def worker_columns(table: str) -> tuple[str, ...]:
    """The columns a worker sends for `table`: everything but the run constants."""
    return tuple(name for name in columns(table) if name not in RUN_CONSTANTS)


def arrow_schema(table: str, names: tuple[str, ...] | None = None) -> pa.Schema:
    types = dict(RAW_TABLES[table])
    names = names if names is not None else worker_columns(table)
    return pa.schema([(name, _ARROW[types[name]]) for name in names])
