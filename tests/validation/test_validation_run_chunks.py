"""How a run cuts its pair-forms into units of work for the worker pool: big units first, small ones at the
end so the workers finish together; every pair-form once, in order."""

from __future__ import annotations

from validation.run import _CHUNK, _pool_chunks


def test_big_units_then_small_ones_at_the_end():
    assert _CHUNK == 16
    items = list(range(600))
    chunks = list(_pool_chunks(items, 2))
    # 600 - 16 * 8 * 2 = 344: units of 64 start below 344 (0 … 320), then units of 16 from 384 on.
    assert [len(chunk) for chunk in chunks] == [64] * 6 + [16] * 13 + [8]
    assert [item for chunk in chunks for item in chunk] == items


def test_a_short_run_is_all_small_units_and_nothing_is_empty():
    assert [len(chunk) for chunk in _pool_chunks(list(range(40)), 2)] == [16, 16, 8]
    assert list(_pool_chunks([], 2)) == []
    assert [len(chunk) for chunk in _pool_chunks(list(range(300)), 1)] == [64] * 3 + [16] * 6 + [12]


def test_duckdb_runs_on_one_thread_while_statements_run_and_gets_its_setting_back():
    import duckdb
    import pytest

    from validation.run import _one_thread

    con = duckdb.connect()
    con.execute("SET threads = 3")
    with _one_thread(con):
        assert con.execute("SELECT current_setting('threads')").fetchall() == [(1,)]
    assert con.execute("SELECT current_setting('threads')").fetchall() == [(3,)]
    with pytest.raises(KeyboardInterrupt), _one_thread(con):
        raise KeyboardInterrupt
    assert con.execute("SELECT current_setting('threads')").fetchall() == [(3,)]


def test_ctrl_c_during_a_duckdb_query_reads_as_an_interruption():
    import os
    import signal
    import threading
    import time

    import duckdb

    from validation.run import _duckdb_interrupted

    con = duckdb.connect()
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    started = time.monotonic()
    timer.start()
    try:
        con.execute("SELECT count(*) FROM range(100000000000) a")
    except BaseException as error:  # noqa: BLE001 - the point is which one DuckDB raises
        caught = error
    finally:
        timer.join()
    assert time.monotonic() - started < 60
    assert _duckdb_interrupted(caught)
    assert not _duckdb_interrupted(RuntimeError("something else"))
    assert not _duckdb_interrupted(duckdb.Error("Query interrupted"))
