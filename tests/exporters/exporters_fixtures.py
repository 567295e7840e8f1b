"""Helpers of the exporters tests: a small warehouse with `marts.dataset_examples` as docs/warehouse.md says.

(A uniquely named module rather than a conftest.py: tests/ holds no __init__.py files, and other test
folders may have their own conftest.)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb

DDL = """
CREATE SCHEMA IF NOT EXISTS marts;
CREATE TABLE marts.dataset_examples (
    dataset_name VARCHAR NOT NULL,
    example_id VARCHAR NOT NULL,
    split VARCHAR NOT NULL,
    position INTEGER NOT NULL,
    dbms VARCHAR,
    strategy VARCHAR,
    is_upper BOOLEAN,
    system_prompt VARCHAR,
    user_content VARCHAR,
    assistant_content VARCHAR,
    pair_id VARCHAR,
    original_fingerprint VARCHAR,
    run VARCHAR,
    task VARCHAR,
    bug_id INTEGER,
    sql_id INTEGER,
    relative_path VARCHAR,
    user_length INTEGER,
    assistant_length INTEGER,
    validation_status VARCHAR,
    is_synthetic BOOLEAN,
    PRIMARY KEY (dataset_name, example_id)
);
"""

SYSTEM_MYSQL = "You are an expert in MySQL statement mutation.Add DISTINCT."
SYSTEM_MARIADB = "You are an expert in MariaDB statement mutation.Add DISTINCT."

# (dataset, example_id, split, position, dbms, strategy, is_upper, system, user, assistant, fingerprint, synthetic)
# Inserted out of position order on purpose: the export must sort by position.
ROWS = [
    ("demo", "ex-3", "train", 2, "mariadb", "FixMDistinctL", False, SYSTEM_MARIADB, "SELECT 2", "SELECT DISTINCT 2",
     "fp-2", False),
    ("demo", "ex-1", "train", 0, "mysql", "FixMDistinctL", False, SYSTEM_MYSQL, "SELECT 1", "SELECT DISTINCT 1",
     "fp-1", False),
    ("demo", "ex-2", "train", 1, "mysql", "FixMWhere1U", True, SYSTEM_MYSQL, "SELECT 'é'\nFROM \"t\"",
     "SELECT 'é'\nFROM \"t\" WHERE 1", "fp-3", True),
    ("demo", "ex-4", "validation", 0, "mysql", "FixMDistinctL", False, SYSTEM_MYSQL, "SELECT 4", "SELECT DISTINCT 4",
     "fp-4", False),
    ("demo", "ex-5", "test", 0, "mariadb", "FixMDistinctL", False, SYSTEM_MARIADB, "SELECT 5", "SELECT DISTINCT 5",
     "fp-5", False),
    # same user content (and fingerprint) in train and test: a leak the report must show
    ("leaky", "l-1", "train", 0, "mysql", "FixMDistinctL", False, SYSTEM_MYSQL, "SELECT 7", "SELECT DISTINCT 7",
     "fp-7", False),
    ("leaky", "l-2", "validation", 0, "mysql", "FixMDistinctL", False, SYSTEM_MYSQL, "SELECT 8", "SELECT DISTINCT 8",
     "fp-8", False),
    ("leaky", "l-3", "test", 0, "mysql", "FixMDistinctL", False, SYSTEM_MYSQL, "SELECT 7", "SELECT DISTINCT 7",
     "fp-7", False),
]


def insert_rows(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    for (dataset, example_id, split, position, dbms, strategy, is_upper, system, user, assistant, fingerprint,
         synthetic) in rows:
        user_length = None if user is None else len(user)
        assistant_length = None if assistant is None else len(assistant)
        con.execute(
            "INSERT INTO marts.dataset_examples VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [dataset, example_id, split, position, dbms, strategy, is_upper, system, user, assistant,
             f"pair-{example_id}", fingerprint, "output1", "task-3", 10 + position, 20 + position,
             f"output1/{dbms}/task-3/bugs/bug-{example_id}.json", user_length, assistant_length, "not validated",
             synthetic],
        )


def build_warehouse(path: Path, rows: list[tuple] = ROWS) -> Path:
    con = duckdb.connect(str(path))
    try:
        con.execute(DDL)
        insert_rows(con, rows)
    finally:
        con.close()
    return path


def file_state(path: Path) -> tuple[str, int, int]:
    data = path.read_bytes()
    stat = path.stat()
    return hashlib.sha256(data).hexdigest(), stat.st_mtime_ns, stat.st_size


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
