"""The runner executes statements in phases (guard a phase's texts, run them, then decode their results), on a
real MariaDB: outcomes are those of one statement at a time, a phase holds at most `_PHASE_STATEMENTS`
statements and stops taking more once its undecoded rows pass `_PHASE_BYTES`; the run's worker pool still
starts a worker in place of one that exits; a run leaves the collector's frozen objects as it found them; a work
item crosses to a worker intact."""

from __future__ import annotations

import gc
import hashlib
import multiprocessing
import os
import pickle

import pytest

from validation import StatementRunner, WorkItem, load_target
from validation.run import _frozen_heap, _Pool
from validation.runner import _PHASE_BYTES, _PHASE_STATEMENTS

MARIADB = load_target("mariadb")
T3 = "`table_3_utf8_undef`"
T7 = "`table_7_utf8_undef`"


@pytest.fixture
def runner(open_runner):
    return open_runner(timeout_s=1.0, row_cap=50)


def selects_run(runner) -> int:
    """The session's count of SELECT statements (a SHOW statement does not count)."""
    with runner.connection.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS LIKE 'Com\\_select'")
        return int(cursor.fetchone()[1])


def summary(outcome) -> tuple:
    return outcome.status, outcome.error_code, outcome.error, outcome.row_count, outcome.column_count, outcome.digest


def one_row_digest(row: str) -> str:
    return hashlib.sha256(f'["{row}"]'.encode()).hexdigest()


def test_a_phase_is_at_most_its_statement_count_and_outcomes_come_in_order(runner, reference_database):
    assert _PHASE_STATEMENTS == 128
    statements = [(reference_database, f"SELECT {number}") for number in range(_PHASE_STATEMENTS + 5)]
    before = selects_run(runner)
    outcomes = runner.execute_each(statements)
    first = next(outcomes)
    # The first outcome comes once the whole first phase has run, and nothing is in flight when it comes.
    assert selects_run(runner) - before == _PHASE_STATEMENTS
    rest = list(outcomes)
    assert selects_run(runner) - before == _PHASE_STATEMENTS + 5
    assert [outcome.digest for outcome in [first, *rest]] == [one_row_digest(str(number))
                                                             for number in range(_PHASE_STATEMENTS + 5)]


def test_a_phase_stops_taking_statements_once_its_rows_pass_the_byte_bound(mariadb, reference_database):
    # Three results of 3,000,000 bytes pass the 8 MiB bound: the phase ends after the third.
    assert _PHASE_BYTES == 8 * 1024 * 1024
    runner = StatementRunner(mariadb.reader(), MARIADB, timeout_s=10.0, row_cap=50)
    try:
        runner.use(reference_database)
        big = "SELECT REPEAT('x', 3000000)"
        statements = [(reference_database, sql) for sql in (big, big, big, big, "SELECT 'small'")]
        before = selects_run(runner)
        outcomes = runner.execute_each(statements)
        first = next(outcomes)
        assert selects_run(runner) - before == 3
        rest = list(outcomes)
        assert selects_run(runner) - before == 5
    finally:
        runner.close()
    assert [outcome.row_count for outcome in [first, *rest]] == [1, 1, 1, 1, 1]
    assert [outcome.digest for outcome in [first, *rest]] == [one_row_digest("x" * 3_000_000)] * 4 + [
        one_row_digest("small")]


def test_outcomes_in_phases_are_those_of_one_statement_at_a_time(runner, reference_database):
    # Refusals, errors, a cap that drops the connection and ordinary results across a phase boundary.
    kinds = [
        f"SELECT `pk` FROM {T3}",
        "DELETE FROM t",
        "SELECT * FROM no_such_table",
        f"SELECT 1 FROM {T7} a, {T7} b, {T3} c LIMIT 100000000",  # row cap over an explicit LIMIT
        "SELECT NULL, '', 'é'",
        "SELECT 1; SELECT 2",
    ]
    statements = [kinds[index % len(kinds)] for index in range(_PHASE_STATEMENTS + 20)]
    phased = runner.execute_all([(reference_database, sql) for sql in statements])
    one_by_one = [runner.execute(sql) for sql in statements]
    assert [summary(outcome) for outcome in phased] == [summary(outcome) for outcome in one_by_one]
    assert [outcome.rows for outcome in phased] == [outcome.rows for outcome in one_by_one]
    statuses = ["ok", "refused", "error", "row_cap", "ok", "refused"]
    assert [outcome.status for outcome in phased] == [statuses[index % len(kinds)] for index in range(len(statements))]
    assert phased[4].rows == {"NULL,,é": 1} and phased[0].row_count == 3


def _pid(_: int) -> int:
    return os.getpid()


def test_the_pool_starts_a_worker_in_place_of_one_that_exits():
    # With one task per worker, each worker exits after its task: only its sentinel wakes the pool's worker
    # handler to start the next one, so every task runs in a process of its own.
    pool = _Pool(2, maxtasksperchild=1, context=multiprocessing.get_context("fork"))
    try:
        pids = pool.map_async(_pid, range(6), chunksize=1).get(timeout=60)
    finally:
        pool.close()
        pool.join()
    assert len(set(pids)) == 6


def test_a_run_leaves_the_frozen_objects_as_it_found_them():
    before = gc.get_freeze_count()
    kept = [[] for _ in range(10)]  # lists are tracked by the collector: frozen while the run lasts
    with _frozen_heap():
        assert gc.get_freeze_count() >= before + len(kept)
    assert gc.get_freeze_count() == before


def test_a_work_item_pickles_as_its_fields():
    items = [WorkItem("a" * 64, "raw", "FixMWhere1U", True, "SELECT 1", "SELECT 1 OR 1", "pinolo_0123456789abcdef",
                      "b" * 64),
             WorkItem("c" * 64, "sqlsim", "s", False, "SELECT 'é'", "SELECT 2", None, "d" * 64, "no database: why")]
    back = pickle.loads(pickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == items and [type(item) for item in back] == [WorkItem, WorkItem]
    assert back[1].no_database_reason == "no database: why" and back[1].database_name is None
    assert back[0].no_database_reason is None and back[0].is_upper is True
