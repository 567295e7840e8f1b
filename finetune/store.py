"""The `finetune` schema of the warehouse: uploaded files, jobs, their snapshots, events, metrics,
checkpoints and result files, the models evaluation reads, experiments, and the evaluation's runs, cache,
predictions and metrics.

Every write opens the warehouse, writes in one transaction (ingest's `write_transaction`: finetune is on
floor 3 and may use the floors below) and closes it again, so a job watched for hours
never holds DuckDB's single write lock between polls (ad-hoc SQL and other stages can run meanwhile).
Writes are idempotent: keyed rows are replaced, events are inserted once.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import duckdb

from ingest.schema import connect, write_transaction

__all__ = ["TABLES", "Store", "now_utc"]

TABLES: dict[str, tuple[str, ...]] = {
    "files": (
        "file_id VARCHAR PRIMARY KEY", "endpoint VARCHAR", "sha256 VARCHAR", "filename VARCHAR", "bytes BIGINT",
        "purpose VARCHAR", "status VARCHAR", "status_details VARCHAR", "created_at TIMESTAMP",
        "dataset_name VARCHAR", "split VARCHAR", "local_path VARCHAR", "recorded_at TIMESTAMP",
    ),
    "jobs": (
        "job_id VARCHAR PRIMARY KEY", "endpoint VARCHAR", "dataset_name VARCHAR", "experiment VARCHAR",
        "dataset_hash VARCHAR", "params_hash VARCHAR", "model VARCHAR", "suffix VARCHAR", "seed BIGINT",
        "n_epochs VARCHAR", "batch_size VARCHAR", "learning_rate_multiplier VARCHAR", "training_file VARCHAR",
        "validation_file VARCHAR", "status VARCHAR", "fine_tuned_model VARCHAR", "trained_tokens BIGINT",
        "error_code VARCHAR", "error_message VARCHAR", "error_param VARCHAR", "created_at TIMESTAMP",
        "finished_at TIMESTAMP", "estimated_finish TIMESTAMP", "result_files VARCHAR[]", "updated_at TIMESTAMP",
    ),
    "job_snapshots": (
        "job_id VARCHAR", "observed_at TIMESTAMP", "status VARCHAR", "job_json VARCHAR",
    ),
    "job_events": (
        "event_id VARCHAR PRIMARY KEY", "job_id VARCHAR", "created_at TIMESTAMP", "level VARCHAR",
        "type VARCHAR", "message VARCHAR", "data_json VARCHAR",
    ),
    "job_metrics": (
        "job_id VARCHAR", "step BIGINT", "total_steps BIGINT", "train_loss DOUBLE",
        "train_mean_token_accuracy DOUBLE", "valid_loss DOUBLE", "valid_mean_token_accuracy DOUBLE",
        "full_valid_loss DOUBLE", "full_valid_mean_token_accuracy DOUBLE", "event_id VARCHAR",
        "created_at TIMESTAMP", "PRIMARY KEY (job_id, step)",
    ),
    "job_checkpoints": (
        "checkpoint_id VARCHAR PRIMARY KEY", "job_id VARCHAR", "step_number BIGINT",
        "fine_tuned_model_checkpoint VARCHAR", "created_at TIMESTAMP", "train_loss DOUBLE",
        "train_mean_token_accuracy DOUBLE", "valid_loss DOUBLE", "valid_mean_token_accuracy DOUBLE",
        "full_valid_loss DOUBLE", "full_valid_mean_token_accuracy DOUBLE",
    ),
    "job_results": (
        "job_id VARCHAR", "step BIGINT", "train_loss DOUBLE", "train_accuracy DOUBLE", "valid_loss DOUBLE",
        "valid_mean_token_accuracy DOUBLE", "result_file_id VARCHAR", "PRIMARY KEY (job_id, step)",
    ),
    "models": (
        "model_name VARCHAR PRIMARY KEY", "kind VARCHAR", "job_id VARCHAR", "step BIGINT", "base_model VARCHAR",
        "dataset_name VARCHAR", "experiment VARCHAR", "endpoint VARCHAR", "created_at TIMESTAMP",
    ),
    "experiments": (
        "experiment VARCHAR PRIMARY KEY", "config_path VARCHAR", "config_hash VARCHAR", "dataset_name VARCHAR",
        "fraction DOUBLE", "model VARCHAR", "n_epochs VARCHAR", "batch_size VARCHAR",
        "learning_rate_multiplier VARCHAR", "seed BIGINT", "suffix VARCHAR", "training_examples BIGINT",
        "dataset_hash VARCHAR", "job_id VARCHAR", "submitted_at TIMESTAMP",
    ),
    # evaluation (finetune/evaluate.py)
    "eval_runs": (
        "evaluation_id BIGINT PRIMARY KEY", "dataset_name VARCHAR", "mutators VARCHAR[]", "mutator_kinds VARCHAR[]",
        "mutator_models VARCHAR[]", "examples BIGINT",
        "example_limit BIGINT", "target VARCHAR", "endpoint VARCHAR", "started_at TIMESTAMP", "finished_at TIMESTAMP",
        "report_path VARCHAR",
    ),
    "eval_cache": (
        "cache_key VARCHAR PRIMARY KEY", "endpoint VARCHAR", "model VARCHAR", "response VARCHAR",
        "prompt_tokens BIGINT", "completion_tokens BIGINT", "created_at TIMESTAMP",
    ),
    "eval_predictions": (
        "evaluation_id BIGINT", "mutator VARCHAR", "example_id VARCHAR", "strategy VARCHAR", "dbms VARCHAR",
        "is_upper BOOLEAN", "original VARCHAR", "expected VARCHAR", "raw_output VARCHAR", "output VARCHAR",
        "exact BOOLEAN", "normalised BOOLEAN", "conforms BOOLEAN", "reason VARCHAR", "reason_kind VARCHAR",
        "clean BOOLEAN", "fenced BOOLEAN", "prose BOOLEAN", "executable BOOLEAN", "oracle VARCHAR", "error VARCHAR",
        "prompt_tokens BIGINT", "completion_tokens BIGINT", "cost_usd DOUBLE", "cached BOOLEAN",
        "PRIMARY KEY (evaluation_id, mutator, example_id)",
    ),
    "eval_metrics": (
        "evaluation_id BIGINT", "mutator VARCHAR", "strategy VARCHAR", "dbms VARCHAR", "examples BIGINT",
        "exact BIGINT", "normalised BIGINT", "conforms BIGINT", "conforms_rate DOUBLE", "conforms_ci_low DOUBLE",
        "conforms_ci_high DOUBLE", "exact_ci_low DOUBLE", "exact_ci_high DOUBLE", "clean BIGINT", "fenced BIGINT",
        "prose BIGINT", "executable BIGINT", "oracle_holds BIGINT", "errors BIGINT", "prompt_tokens BIGINT",
        "completion_tokens BIGINT", "cost_usd DOUBLE",
        "PRIMARY KEY (evaluation_id, mutator, strategy, dbms)",
    ),
}


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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.transaction() as con:
            con.execute("CREATE SCHEMA IF NOT EXISTS finetune")
            for table, columns in TABLES.items():
                con.execute(f"CREATE TABLE IF NOT EXISTS finetune.{table} ({', '.join(columns)})")

    def transaction(self):
        """A writing connection in one transaction, committed at the end of the block, rolled back on any
        exception (Ctrl-C included), always closed: ingest's, so every stage writes the same way."""
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
