"""A run reads its scope in two steps: `plan_scope` (counts, data SQL, without the pairs' texts) before the first
statement, then `scope_work` streams the pair-forms left to run while the workers execute them. Both must say
exactly what `read_scope` and the "logged before" set said when the whole scope was read first."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from pinoloft_base.warehouse import connect
from validation.errors import WarehouseError
from validation.scope import (REFERENCE_DATA_SQL, REFERENCE_DATA_SQL_HASH, Scope, plan_scope, read_scope,
                              scope_work)
from validation.store import ensure_tables

DATA_A = "CREATE TABLE t (c INT);\nINSERT INTO t VALUES (1);\n"
HASH_A = hashlib.sha256(DATA_A.encode()).hexdigest()


def _warehouse(path: Path) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE SCHEMA raw")
        con.execute("""CREATE TABLE marts.pairs (pair_id VARCHAR, pair_hash VARCHAR, strategy VARCHAR, is_upper BOOLEAN,
            original_sql VARCHAR, mutated_sql VARCHAR, original_sqlsim VARCHAR, mutated_sqlsim VARCHAR,
            source_root VARCHAR, run VARCHAR, dbms VARCHAR, task VARCHAR)""")
        con.execute("""CREATE TABLE raw.data_sqls (source_root VARCHAR, run VARCHAR, dbms VARCHAR, task VARCHAR,
            relative_path VARCHAR, sha256 VARCHAR, content VARCHAR)""")
        con.execute("CREATE TABLE marts.dataset_candidates (dataset_name VARCHAR, pair_id VARCHAR)")
        # p1..p4 on task-a (its own data SQL), p5 on task-x (none: the reference file), p3 and p5 with sqlsim.
        rows = [
            ("i3", "p3", "s", True, "SELECT 3", "SELECT 30", "SELECT 3 /*sim*/", "SELECT 30 /*sim*/", "task-a"),
            ("i1", "p1", "s", False, "SELECT 1", "SELECT 10", None, None, "task-a"),
            ("i5", "p5", "t", None, "SELECT 5", "SELECT 50", "SELECT 5 /*sim*/", "SELECT 50 /*sim*/", "task-x"),
            ("i2", "p2", "s", True, "SELECT 2", "SELECT 20", "SELECT 2 /*sim*/", None, "task-a"),
            ("i4", "p4", "t", False, "SELECT 4", "SELECT 40", None, None, "task-a"),
        ]
        con.executemany("INSERT INTO marts.pairs VALUES (?, ?, ?, ?, ?, ?, ?, ?, '/root', 'run', 'mysql', ?)", rows)
        con.execute("INSERT INTO raw.data_sqls VALUES ('/root', 'run', 'mysql', 'task-a', 'a/output.data.sql', ?, ?)",
                    [HASH_A, DATA_A])
        con.executemany("INSERT INTO marts.dataset_candidates VALUES (?, ?)",
                        [("one", "i3"), ("one", "i5"), ("one", "i5"), ("two", "i1")])
    return path


def _log(path: Path, logged: list[tuple[str, str, str]]) -> None:
    """Log rows for (pair_hash, form, settings_hash) under target mariadb, server version 10.11."""
    with connect(path) as con:
        ensure_tables(con)
        con.executemany("INSERT INTO raw.validation_runs (target, server_version, settings_hash, pair_hash, form, "
                        "validation_run_id, repeat_index) VALUES ('mariadb', '10.11', ?, ?, ?, 1, 0)",
                        [(settings, pair_hash, form) for pair_hash, form, settings in logged])


def _as_before(con, scope: Scope, done: set[tuple[str, str]]):
    """What a run computed before the stream: read_scope, then every form not logged before."""
    pairs, texts = read_scope(con, scope)
    planned = [(pair, form) for pair in pairs for form in pair.forms()]
    todo = [(pair, form) for pair, form in planned if (pair.pair_hash, form[0]) not in done]
    return len(planned), len(planned) - len(todo), sorted({pair.data_sql_hash for pair, _ in todo}), texts, todo


def test_the_plan_and_the_stream_say_what_the_whole_scope_said(tmp_path):
    path = _warehouse(tmp_path / "w.duckdb")
    _log(path, [("p3", "raw", "h"), ("p3", "raw", "h"), ("p5", "sqlsim", "h"), ("p1", "raw", "other"),
                ("p4", "raw", "h"), ("p2", "sqlsim", "h")])
    fallback = (REFERENCE_DATA_SQL, "reference §9.3 output.data.sql (the task has none)")
    with connect(path) as con:
        ensure_tables(con)
        fresh = plan_scope(con, Scope(all_pairs=True), None)
        assert (fresh.planned, fresh.skipped, fresh.todo_hashes) == (7, 0, sorted([HASH_A, REFERENCE_DATA_SQL_HASH]))
        assert fresh.texts == {HASH_A: (DATA_A, "a/output.data.sql"), REFERENCE_DATA_SQL_HASH: fallback}
        streamed = [(pair.pair_hash, form[0], form[1], pair.is_upper, pair.data_sql_hash)
                    for pair, form in scope_work(con.cursor(), fresh, batch=2)]
        assert streamed == [
            ("p1", "raw", "SELECT 1", False, HASH_A), ("p2", "raw", "SELECT 2", True, HASH_A),
            ("p3", "raw", "SELECT 3", True, HASH_A), ("p3", "sqlsim", "SELECT 3 /*sim*/", True, HASH_A),
            ("p4", "raw", "SELECT 4", False, HASH_A), ("p5", "raw", "SELECT 5", False, REFERENCE_DATA_SQL_HASH),
            ("p5", "sqlsim", "SELECT 5 /*sim*/", False, REFERENCE_DATA_SQL_HASH)]

        resumed = plan_scope(con, Scope(all_pairs=True), ("mariadb", "10.11", "h"))
        assert (resumed.planned, resumed.skipped, resumed.todo_hashes) == (7, 3, sorted([HASH_A, REFERENCE_DATA_SQL_HASH]))
        assert [(pair.pair_hash, form[0]) for pair, form in scope_work(con.cursor(), resumed)] == [
            ("p1", "raw"), ("p2", "raw"), ("p3", "sqlsim"), ("p5", "raw")]
        # Another server version: nothing counts as logged.
        assert plan_scope(con, Scope(all_pairs=True), ("mariadb", "10.6", "h")).skipped == 0

        for scope in (Scope(all_pairs=True), Scope(), Scope(dataset="one"), Scope(dataset="two")):
            for done_under, done in ((None, set()), (("mariadb", "10.11", "h"),
                                                     {("p3", "raw"), ("p5", "sqlsim"), ("p4", "raw"), ("p2", "sqlsim")})):
                plan = plan_scope(con, scope, done_under)
                planned, skipped, hashes, texts, todo = _as_before(con, scope, done)
                assert (plan.planned, plan.skipped, plan.todo_hashes, plan.texts) == (planned, skipped, hashes, texts)
                assert list(scope_work(con.cursor(), plan, batch=1)) == todo


def test_only_the_fallback_pairs_left_and_all_logged(tmp_path):
    path = _warehouse(tmp_path / "w.duckdb")
    _log(path, [(f"p{n}", form, "h") for n in range(1, 6) for form in ("raw", "sqlsim")])
    with connect(path) as con:
        ensure_tables(con)
        plan = plan_scope(con, Scope(dataset="one"), ("mariadb", "10.11", "h"))
        assert (plan.planned, plan.skipped, plan.todo_hashes) == (4, 4, [])
        assert list(scope_work(con.cursor(), plan)) == []
        five = plan_scope(con, Scope(dataset="one"), None)
        assert (five.planned, five.skipped, five.todo_hashes) == (4, 0, sorted([HASH_A, REFERENCE_DATA_SQL_HASH]))


def test_an_unknown_dataset_is_refused_before_anything_runs(tmp_path):
    path = _warehouse(tmp_path / "w.duckdb")
    with connect(path) as con, pytest.raises(WarehouseError, match=r"no dataset 'three' .*known: one, two"):
        plan_scope(con, Scope(dataset="three"), None)


def test_units_cut_from_a_stream_are_the_units_cut_from_the_list():
    from validation.run import _chunks, _pool_chunks

    for total, jobs in ((600, 2), (40, 2), (300, 1), (0, 2)):
        assert list(_pool_chunks(iter(range(total)), jobs, total)) == list(_pool_chunks(list(range(total)), jobs))
    assert [len(chunk) for chunk in _chunks(iter(range(40)), 16)] == [16, 16, 8]


def test_a_closed_stream_stops_drawing_and_closes_its_cursor(tmp_path):
    from validation.run import _Stream

    path = _warehouse(tmp_path / "w.duckdb")
    with connect(path) as con:
        ensure_tables(con)
        stream = _Stream(con.cursor())
        plan = plan_scope(con, Scope(all_pairs=True), None, on_query=stream.start)
        assert stream._started == (plan.query, plan.parameters)
        drawn = stream.guarded(scope_work(stream, plan, batch=1))
        assert next(drawn)[0].pair_hash == "p1"
        stream.close()
        assert list(drawn) == []
        with pytest.raises(duckdb.ConnectionException):
            stream.cursor.execute("SELECT 1")


def test_a_started_query_that_fails_raises_where_its_rows_are_taken(tmp_path):
    from validation.run import _Stream

    path = _warehouse(tmp_path / "w.duckdb")
    with connect(path) as con:
        stream = _Stream(con.cursor())
        stream.start("SELECT * FROM no_such_table", [])
        with pytest.raises(duckdb.CatalogException, match="no_such_table"):
            stream.execute("SELECT * FROM no_such_table", [])
        # Another query than the started one runs on the cursor as asked.
        assert stream.execute("SELECT 42", []).fetchall() == [(42,)]
        stream.close()
