"""Log rows on their way to the warehouse: the same rows land byte for byte whether the run's process sends
them as tuples (one job) or a worker sends them as an Arrow table (several jobs), with the same counters, and
neither way makes pyarrow import pandas in the process that writes."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb

from validation.store import RUN_COLUMNS, WORK_COLUMNS, append_batches, append_runs, ensure_tables, log_batch

CONSTANTS = {"target": "mariadb", "server_version": "10.11.6-MariaDB", "validation_run_id": 7, "settings_hash": "s" * 64}


def work_row(pair_hash: str, form: str, repeat: int, original_status: str, mutated_status: str, **values) -> tuple:
    row = dict.fromkeys(WORK_COLUMNS)
    row.update(pair_hash=pair_hash, form=form, repeat_index=repeat, original_status=original_status,
               mutated_status=mutated_status, executed_at=datetime(2026, 12, 3, 16, 30, 1, 123456),
               strategy="FixMDistinct", is_upper=True, **values)
    return tuple(row[name] for name in WORK_COLUMNS)


ROWS = [
    work_row("a" * 64, "raw", 0, "ok", "ok", original_row_count=3, original_digest="d1", original_duration_ms=1.25,
             mutated_row_count=2, mutated_digest="d2", mutated_duration_ms=0.1 + 0.2, oracle="mutated_subset",
             database_name="pinolo_0123456789abcdef", data_sql_hash="h" * 64, original_column_count=2,
             mutated_column_count=2),
    work_row("a" * 64, "raw", 1, "ok", "error", original_row_count=3, original_digest="d1", mutated_error_code=1064,
             mutated_error="syntax ‘é’ near 'x'", mutated_error_class="syntax", original_column_count=2),
    work_row("a" * 64, "sqlsim", 0, "refused", "ok", original_error="not executed: two statements",
             mutated_row_count=0, mutated_digest="d0", mutated_duration_ms=12345678.5),
    work_row("b" * 64, "raw", 0, "no_database", "no_database", original_error="no database",
             mutated_error="no database"),
]


def logged(con) -> list[tuple]:
    names = ", ".join(name for name, _ in RUN_COLUMNS)
    return con.execute(f"SELECT {names} FROM raw.validation_runs ORDER BY rowid").fetchall()


def test_a_batch_counts_its_pair_forms_and_statements():
    batch = log_batch(ROWS)
    assert batch.rows == 4 and batch.data == ROWS
    assert batch.pair_forms == {("a" * 64, "raw"), ("a" * 64, "sqlsim"), ("b" * 64, "raw")}
    # 8 statements: 1 refused, 2 without a database, 5 executed (an error is executed).
    assert (batch.executed, batch.refused) == (5, 1)
    empty = log_batch([], as_table=True)
    assert (empty.rows, empty.pair_forms, empty.executed, empty.refused, empty.data) == (0, set(), 0, 0, [])


def test_tuples_and_arrow_tables_log_the_same_rows_in_order():
    expected = duckdb.connect()
    ensure_tables(expected)
    append_runs(expected, ROWS, CONSTANTS)
    rows = logged(expected)
    assert len(rows) == 4
    assert rows[0][:6] == ("a" * 64, "raw", "mariadb", "10.11.6-MariaDB", 7, 0)
    assert rows[0][11] == 1.25 and rows[0][17] == 0.1 + 0.2 and rows[2][17] == 12345678.5
    assert rows[1][14] == "syntax ‘é’ near 'x'" and rows[1][13] == 1064
    assert rows[3][19] == datetime(2026, 12, 3, 16, 30, 1, 123456) and rows[3][-1] == "s" * 64

    for batches in ([log_batch(ROWS[:1]), log_batch(ROWS[1:])],
                    [log_batch(ROWS[:3], as_table=True), log_batch([], as_table=True), log_batch(ROWS[3:], as_table=True)],
                    [log_batch(ROWS[:2]), log_batch(ROWS[2:3], as_table=True), log_batch(ROWS[3:])]):
        con = duckdb.connect()
        ensure_tables(con)
        append_batches(con, batches, CONSTANTS)
        assert logged(con) == rows


def in_fresh_interpreter(code: str) -> list[str]:
    # A fresh interpreter: the test process may have imported pandas already.
    prelude = f"import datetime\nROWS = {ROWS!r}\nCONSTANTS = {CONSTANTS!r}\n"
    done = subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[2])
    return done.stdout.split()


def test_writing_log_rows_does_not_import_pandas():
    assert in_fresh_interpreter(
        "import sys, duckdb\n"
        "from validation.store import ensure_tables, append_batches, log_batch\n"
        "con = duckdb.connect(); ensure_tables(con)\n"
        "append_batches(con, [log_batch(ROWS)], CONSTANTS)\n"
        "print(con.execute('SELECT count(*) FROM raw.validation_runs').fetchall()[0][0], 'pandas' in sys.modules)\n"
    ) == ["4", "False"]


def test_a_worker_makes_arrow_tables_without_importing_pandas():
    # A worker that cannot connect keeps the error for its first chunk; the pandas guard is in place before.
    assert in_fresh_interpreter(
        "import sys\n"
        "from validation.run import _start_worker, _worker\n"
        "from validation.server import Endpoint\n"
        "from validation.store import log_batch\n"
        "_start_worker(Endpoint('reader', unix_socket='/nonexistent/mysqld.sock'), 'mariadb', 1.0, 10, 1, 1000)\n"
        "batch = log_batch(ROWS, as_table=True)\n"
        "try:\n"
        "    import pandas\n"
        "except ImportError:\n"
        "    blocked = True\n"
        "else:\n"
        "    blocked = False\n"
        "print(type(batch.data).__name__, batch.data.num_rows, 'pandas' in sys.modules, blocked,\n"
        "      _worker['error'].startswith('a worker could not connect'))\n"
    ) == ["Table", "4", "False", "True", "True"]
