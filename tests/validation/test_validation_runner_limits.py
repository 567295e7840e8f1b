"""The runner's bounds on hostile statements, on a real MariaDB: an explicit LIMIT cannot lift the row cap,
a result cannot bring more than the byte cap, the client's memory stays bounded on a 100-million-row
statement, a statement the time limit stopped is `timeout` whatever it returned, the connection works after
each of them, and a session whose sql_mode would make the server read quotes differently from the guard is
refused."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace

import pytest

from validation import StatementRunner, TargetError, load_target

MARIADB = load_target("mariadb")
T3 = "`table_3_utf8_undef`"
T7 = "`table_7_utf8_undef`"
# 10 rows from no table; eight of them cross-joined make 100,000,000 rows, streamed by the server as it joins.
TEN = " UNION ALL ".join(f"SELECT {digit}{' d' if digit == 0 else ''}" for digit in range(10))
HUNDRED_MILLION_WIDE_ROWS = (
    "SELECT REPEAT('x', 1000), " + " + ".join(f"t{i}.d" for i in range(8))
    + " FROM " + ", ".join(f"({TEN}) t{i}" for i in range(8)) + " LIMIT 100000000"
)
# The pinned mode of the tests' own targets: MariaDB 10.11's default, as targets.yml pins it.
DEFAULT_MODE = "STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION"


def unpinned(target=MARIADB):
    """The target without any sql_mode statement of its own: the server's default mode applies."""
    return replace(target, session=tuple(s for s in target.session if "sql_mode" not in s.lower()))


def pinned(mode: str, target=MARIADB):
    return replace(target, session=(f"SET SESSION sql_mode = '{mode}'",) + unpinned(target).session)


@pytest.fixture
def runner(open_runner):
    return open_runner(timeout_s=1.0, row_cap=50, byte_cap=2_500_000)


def summary(outcome) -> tuple:
    return outcome.status, outcome.error_code, outcome.error, outcome.row_count, outcome.column_count, outcome.digest


def running_statements(mariadb, marker: str) -> list[tuple]:
    with mariadb.admin().connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT ID, COMMAND, INFO FROM information_schema.PROCESSLIST WHERE INFO LIKE %s "
                       "AND ID <> CONNECTION_ID()", (f"%{marker}%",))
        return list(cursor.fetchall())


def test_an_explicit_limit_cannot_lift_the_row_cap(runner, mariadb):
    # 7 x 7 x 3 = 147 rows; the LIMIT overrides the session's sql_select_limit of 51, so the server would send
    # all 147: the client stops reading at the 52nd and cancels the statement.
    capped = runner.execute(f"SELECT 1, 'row cap marker' FROM {T7} a, {T7} b, {T3} c LIMIT 100000000")
    assert summary(capped) == ("row_cap", None, "more than 50 rows", 51, 2, None)
    # The statement is not left running on the server (it ends within milliseconds of the dropped connection).
    deadline = time.monotonic() + 10
    while running_statements(mariadb, "row cap marker") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running_statements(mariadb, "row cap marker") == []
    # The runner goes on in the same database: no "No database selected" after the reconnection.
    fits = runner.execute(f"SELECT 1 FROM {T7} a, {T7} b")
    assert (fits.status, fits.row_count) == ("ok", 49)


def test_the_byte_cap_stops_a_few_huge_rows(runner):
    # Three rows of 1,000,000 bytes (and 3 bytes of length each): the third would pass 2,500,000 bytes.
    wide = runner.execute(f"SELECT REPEAT('x', 1000000) FROM {T3}")
    assert summary(wide) == ("row_cap", None, "more than 2500000 bytes of rows", 2, 1, None)
    # One row longer than the cap is never read into memory: the cap stops it before its first row.
    huge_row = runner.execute("SELECT REPEAT('x', 1000000), REPEAT('y', 1000000), REPEAT('z', 1000000)")
    assert summary(huge_row) == ("row_cap", None, "more than 2500000 bytes of rows", 0, 3, None)
    under = runner.execute(f"SELECT REPEAT('x', 800000) FROM {T3}")
    assert (under.status, under.row_count, under.rows) == ("ok", 3, {"x" * 800000: 3})


def test_the_default_byte_cap_is_64_mib(mariadb, reference_database):
    runner = StatementRunner(mariadb.reader(), MARIADB, timeout_s=10.0, row_cap=100_000)
    try:
        runner.use(reference_database)
        # A 20,000,008-byte row comes in two protocol packets (16 MiB - 1 and the rest), joined again.
        two_packets = runner.execute("SELECT REPEAT('x', 10000000), REPEAT('y', 10000000)")
        assert (two_packets.status, two_packets.rows) == ("ok", {"x" * 10_000_000 + "," + "y" * 10_000_000: 1})
        # 100 rows of 1,000,000 bytes: 67 fit in 67,108,864 bytes (each row is 1,000,004 bytes on the wire).
        outcome = runner.execute(f"SELECT REPEAT('x', 1000000) FROM ({TEN}) a, ({TEN}) b LIMIT 100000000")
        assert summary(outcome) == ("row_cap", None, "more than 67108864 bytes of rows", 67, 1, None)
    finally:
        runner.close()


_PEAK_RSS_SCRIPT = """
import json, resource, sys
# Old code that buffers would grow until the time limit: fail it fast instead of swapping the machine.
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from validation import StatementRunner, load_target
from validation.server import Endpoint
given = json.load(sys.stdin)

def kib(field):
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(field + ":"))

runner = StatementRunner(Endpoint(**given["endpoint"]), load_target("mariadb"), timeout_s=5.0,
                         row_cap=given["row_cap"])
runner.use(given["database"])
before = kib("VmRSS")
outcome = runner.execute(given["sql"])
after = runner.execute("SELECT 7")
print(json.dumps({"status": outcome.status, "error": outcome.error, "rows": outcome.row_count,
                  "then": [after.status, dict(after.rows)], "before_kib": before, "peak_kib": kib("VmHWM")}))
"""


def peak_rss_of(mariadb, database: str, sql: str, row_cap: int) -> dict:
    """What a fresh runner in a child process makes of `sql`, with the child's RSS before it and its peak."""
    reader = mariadb.reader()
    given = {"endpoint": {"user": reader.user, "password": reader.password, "host": reader.host, "port": reader.port,
                          "unix_socket": reader.unix_socket},
             "database": database, "sql": sql, "row_cap": row_cap}
    # The password goes through stdin, never argv.
    done = subprocess.run([sys.executable, "-c", _PEAK_RSS_SCRIPT], input=json.dumps(given), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_a_capped_statement_over_a_hundred_million_rows_keeps_memory_flat(mariadb, reference_database):
    seen = peak_rss_of(mariadb, reference_database, HUNDRED_MILLION_WIDE_ROWS, row_cap=1000)
    assert (seen["status"], seen["error"], seen["rows"], seen["then"]) == (
        "row_cap", "more than 1000 rows", 1001, ["ok", {"7": 1}])
    # 1,001 rows of about 1 KB: the peak hardly moves. Buffering reached gigabytes before the time limit.
    assert seen["peak_kib"] - seen["before_kib"] < 32 * 1024, seen


def test_a_result_within_the_byte_cap_costs_a_small_multiple_of_its_size(mariadb, reference_database):
    # 60 MB of control characters, just under the default byte cap: held as packets, then row strings, then
    # digested row by row (as one JSON text, each byte would be 6 bytes, twice over: 700 MB more).
    seen = peak_rss_of(mariadb, reference_database,
                       f"SELECT REPEAT(CHAR(1), 1000000) FROM ({TEN}) a, ({TEN}) b LIMIT 60", row_cap=100_000)
    assert (seen["status"], seen["rows"], seen["then"]) == ("ok", 60, ["ok", {"7": 1}])
    assert seen["peak_kib"] - seen["before_kib"] < 256 * 1024, seen


def test_a_statement_the_time_limit_stopped_is_a_timeout_whatever_it_returned(runner):
    # MariaDB ends BENCHMARK at the limit with a normal-looking row ('0'), no error and no warning.
    stopped = runner.execute("SELECT BENCHMARK(100000000000, MD5('x'))")
    assert (stopped.status, stopped.row_count, stopped.digest, stopped.error) == (
        "timeout", 1, None, "the statement time limit stopped the statement, which returned an incomplete result")
    assert runner.execute("SELECT 1 + 1").rows == {"2": 1}
    # After a timeout the server reports as an error (1969), the next BENCHMARK still counts as stopped.
    assert (runner.execute("SELECT SLEEP(3)").status, runner.execute("SELECT SLEEP(3)").error_code) == ("timeout", 1969)
    assert runner.execute(f"SELECT BENCHMARK(100000000000, MD5(`pk`)) FROM {T3} LIMIT 1").status == "timeout"


def test_a_slow_statement_within_the_limit_stays_ok(mariadb, reference_database):
    runner = StatementRunner(mariadb.reader(), MARIADB, timeout_s=2.0, row_cap=50)
    try:
        assert runner.execute("SELECT BENCHMARK(100000000000, MD5('x'))").status == "timeout"
        # 1.85 s of a 2 s limit: slow enough to be looked at, not stopped.
        slow = runner.execute("SELECT SLEEP(1.85)")
        assert (slow.status, slow.rows) == ("ok", {"0": 1})
    finally:
        runner.close()


def test_after_each_bound_the_connection_gives_what_a_fresh_one_gives(runner, mariadb, reference_database):
    fits = [f"SELECT `pk` FROM {T3}", f"SELECT COUNT(*) FROM {T7} a, {T7} b", "SELECT 'still here'"]
    statements = [
        fits[0],
        f"SELECT 1 FROM {T7} a, {T7} b, {T3} c LIMIT 100000000",  # row cap, cancelled
        fits[1],
        f"SELECT REPEAT('x', 1000000) FROM {T3}",  # byte cap, cancelled
        fits[2],
        "SELECT BENCHMARK(100000000000, MD5('x'))",  # time limit
        fits[0],
        f"SELECT 1 FROM {T7} a, {T7} b, {T3} c",  # row cap by sql_select_limit: nothing to cancel
        fits[1],
    ]
    pipelined = runner.execute_all([(reference_database, sql) for sql in statements])
    one_by_one = [runner.execute(sql) for sql in statements]
    fresh = StatementRunner(mariadb.reader(), MARIADB, timeout_s=1.0, row_cap=50, byte_cap=2_500_000)
    try:
        fresh.use(reference_database)
        expected = [summary(fresh.execute(sql)) for sql in statements]
    finally:
        fresh.close()
    assert [summary(outcome) for outcome in pipelined] == expected
    assert [summary(outcome) for outcome in one_by_one] == expected
    assert [status for status, *_ in expected] == ["ok", "row_cap", "ok", "row_cap", "ok", "timeout", "ok",
                                                   "row_cap", "ok"]
    assert pipelined[2].rows == {"49": 1} and pipelined[4].rows == {"still here": 1}


def _set_global_mode(mariadb, mode: str | None) -> str:
    with mariadb.admin().connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT @@GLOBAL.sql_mode")
        (before,) = cursor.fetchone()
        if mode is not None:
            cursor.execute("SET GLOBAL sql_mode = %s", (mode,))
    return before


def test_a_server_default_of_ansi_quotes_is_refused_unless_the_session_pins_its_mode(mariadb, reference_database):
    before = _set_global_mode(mariadb, "ANSI_QUOTES")
    try:
        with pytest.raises(TargetError, match=r"runs with sql_mode ANSI_QUOTES, which the guard does not read"):
            StatementRunner(mariadb.reader(), unpinned(), timeout_s=1.0, row_cap=50)
        # The shipped target pins sql_mode in its first session statement (a DSN target uses the same notes).
        for target in (MARIADB, pinned(DEFAULT_MODE)):
            runner = StatementRunner(mariadb.reader(), target, timeout_s=1.0, row_cap=50)
            try:
                runner.use(reference_database)
                # Under the pinned mode "x" is a string, as the guard reads it (under ANSI_QUOTES: a column).
                assert runner.execute('SELECT "x"').rows == {"x": 1}
            finally:
                runner.close()
    finally:
        _set_global_mode(mariadb, before)


@pytest.mark.parametrize("mode, named", [
    ("ANSI_QUOTES", "ANSI_QUOTES"),
    ("NO_BACKSLASH_ESCAPES", "NO_BACKSLASH_ESCAPES"),
    ("ANSI", "ANSI,ANSI_QUOTES"),
    ("ORACLE", "ANSI_QUOTES,ORACLE"),
    ("MSSQL", "ANSI_QUOTES,MSSQL"),
    ("DB2", "ANSI_QUOTES,DB2"),
    ("POSTGRESQL", "ANSI_QUOTES,POSTGRESQL"),
    ("MAXDB", "ANSI_QUOTES,MAXDB"),
])
def test_a_session_mode_that_reads_quotes_differently_is_refused(mariadb, mode, named):
    with pytest.raises(TargetError) as raised:
        StatementRunner(mariadb.reader(), pinned(mode), timeout_s=1.0, row_cap=50)
    assert str(raised.value) == (f"{mariadb.reader().describe()} runs with sql_mode {named}, which the guard does "
                                 f"not read: pin sql_mode in the target's session statements")


def test_a_harmless_mode_is_accepted(mariadb):
    runner = StatementRunner(mariadb.reader(), pinned("PIPES_AS_CONCAT,IGNORE_SPACE"), timeout_s=1.0, row_cap=50)
    runner.close()

