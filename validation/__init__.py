"""Validation on a real database server (floor 2: imports `mutations` and the base floor `pinoloft_base` only).

The throwaway MariaDB (`ThrowawayServer`), the SELECT-only guard (`statement_refusal`), the runner with
per-statement time limits and row caps (`StatementRunner`), PINOLO's result digest and oracle
(`result_digest`, `oracle`), and resumable runs logged to `raw.validation_runs` (`validate`).
"""

from mutations.oracle import Outcome, compare, oracle, result_digest, row_string

from .errors import (
    DataSqlError,
    ServerError,
    ServerLost,
    TargetError,
    TargetUnreachable,
    ValidationError,
    WarehouseError,
)
from .guard import split_data_sql, statement_refusal
from .run import RunReport, RunSettings, check_read_only, validate
from .runner import StatementRunner, WorkItem, log_row_dict, run_pairs
from .scope import Scope
from .server import Endpoint, ThrowawayServer, mariadb_binaries, parse_dsn
from .targets import Target, error_class, load_target

__all__ = [
    "DataSqlError",
    "Endpoint",
    "Outcome",
    "RunReport",
    "RunSettings",
    "Scope",
    "ServerError",
    "ServerLost",
    "StatementRunner",
    "Target",
    "TargetError",
    "TargetUnreachable",
    "ThrowawayServer",
    "ValidationError",
    "WarehouseError",
    "WorkItem",
    "check_read_only",
    "compare",
    "error_class",
    "load_target",
    "mariadb_binaries",
    "oracle",
    "parse_dsn",
    "result_digest",
    "row_string",
    "log_row_dict",
    "run_pairs",
    "split_data_sql",
    "statement_refusal",
    "validate",
]
