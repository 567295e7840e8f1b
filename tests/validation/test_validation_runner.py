"""The runner on a real MariaDB over the §9.3 data: statuses, digests and oracle outcomes worked out by hand
from the data file, the time limit, the row cap, and the locks around untrusted SQL."""

from __future__ import annotations

import hashlib

import pymysql
import pytest

from validation import TargetError, WorkItem, check_read_only, load_target
from validation.runner import log_row_dict, run_pairs

MARIADB = load_target("mariadb")
T3 = "`table_3_utf8_undef`"


@pytest.fixture
def runner(open_runner):
    return open_runner(timeout_s=1.0, row_cap=50)


def digest(*rows: str) -> str:
    return hashlib.sha256(("[" + ", ".join(f'"{row}"' for row in sorted(rows)) + "]").encode()).hexdigest()


def test_cells_are_the_servers_text(runner):
    # table_3 row pk=1 of reference §9.3 inserts -9.183 into a bigint, 0.0001 into a float, 71.0510 into a
    # double, 12.991 into a decimal(40, 20) and '3<TAB>' into a char(20).
    outcome = runner.execute(
        f"SELECT `col_bigint_key_signed`, `col_float_key_unsigned`, `col_double_key_signed`, "
        f"`col_decimal(40, 20)_key_signed`, `col_char(20)_undef_signed`, NULL FROM {T3} WHERE `pk` = 1"
    )
    assert outcome.status == "ok" and outcome.row_count == 1 and outcome.column_count == 6
    assert list(outcome.rows) == ["-9,0.0001,71.051,12.99100000000000000000,3\t,NULL"]


def run_pair(runner, item, repeats):
    return [log_row_dict(row) for row in run_pairs(runner, [item], repeats)]


def item(original: str, mutated: str, is_upper: bool, database: str) -> WorkItem:
    return WorkItem("p" * 64, "raw", "FixMWhere1U", is_upper, original, mutated, database, "h" * 64)


def test_pairs_worked_out_by_hand(runner, reference_database):
    # col_bigint_undef_signed of table_3 is 82 (82.1847 rounded), 1, -2 for pk 0, 1, 2.
    original = f"SELECT `pk` FROM {T3} WHERE `col_bigint_undef_signed` > 0"
    looser = f"SELECT `pk` FROM {T3} WHERE (`col_bigint_undef_signed` > 0) OR 1"
    rows = run_pair(runner, item(original, looser, True, reference_database), repeats=2)
    assert [row["repeat_index"] for row in rows] == [0, 1]
    first = rows[0]
    assert (first["original_status"], first["original_row_count"], first["original_digest"]) == ("ok", 2, digest("0", "1"))
    assert (first["mutated_status"], first["mutated_row_count"], first["mutated_digest"]) == ("ok", 3, digest("0", "1", "2"))
    assert first["oracle"] == "holds"  # upper: original ⊆ mutated
    assert rows[1]["original_digest"] == first["original_digest"]
    assert run_pair(runner, item(original, looser, False, reference_database), 1)[0]["oracle"] == "violated"

    # varchar_key of table_3 is 'e', '-0', 'e': DISTINCT keeps {e, -0}, a strict sub-multiset.
    column = "`col_varchar(20)_key_signed`"
    distinct = run_pair(runner, item(f"SELECT {column} FROM {T3}", f"SELECT DISTINCT {column} FROM {T3}", False,
                                     reference_database), 1)[0]
    assert (distinct["original_row_count"], distinct["mutated_row_count"]) == (3, 2)
    assert distinct["original_digest"] == digest("e", "-0", "e")
    assert distinct["oracle"] == "holds"

    other_row = run_pair(runner, item(f"SELECT `pk` FROM {T3} WHERE `pk` = 0", f"SELECT `pk` FROM {T3} WHERE `pk` = 1",
                                      True, reference_database), 1)[0]
    assert other_row["oracle"] == "incomparable"
    wider = run_pair(runner, item(f"SELECT `pk`, `pk` FROM {T3}", f"SELECT `pk` FROM {T3}", False, reference_database), 1)[0]
    assert (wider["original_column_count"], wider["mutated_column_count"], wider["oracle"]) == (2, 1, "incomparable")
    empty = run_pair(runner, item(f"SELECT `pk` FROM {T3} WHERE `pk` > 5", f"SELECT `pk` FROM {T3}", True,
                                  reference_database), 1)[0]
    assert (empty["original_row_count"], empty["original_digest"], empty["oracle"]) == (0, digest(), "holds")


def test_a_missing_function_is_an_error_with_a_known_class(runner, reference_database):
    row = run_pair(runner, item(f"SELECT `pk` FROM {T3}", f"SELECT FORMAT_BYTES(`pk`) FROM {T3}", True,
                                reference_database), 1)[0]
    assert row["original_status"] == "ok"
    assert row["mutated_status"] == "error" and row["oracle"] is None
    # The read-only account may not execute routines, so MariaDB answers 1370 before 1305.
    assert row["mutated_error_code"] == 1370
    assert row["mutated_error_class"] == "FUNCTION format_bytes does not exist [known: MariaDB has no FORMAT_BYTES]"


def test_the_statement_time_limit_and_the_row_cap(runner):
    slow = runner.execute("SELECT SLEEP(3)")
    assert (slow.status, slow.error_code) == ("timeout", 1969)
    assert slow.duration_ms < 2500
    # 7 x 7 x 3 = 147 rows > the cap of 50: the server stops at 51 and no digest is made.
    capped = runner.execute("SELECT 1 FROM `table_7_utf8_undef` a, `table_7_utf8_undef` b, `table_3_utf8_undef` c")
    assert (capped.status, capped.row_count, capped.digest) == ("row_cap", 51, None)
    fits = runner.execute("SELECT 1 FROM `table_7_utf8_undef` a, `table_7_utf8_undef` b")
    assert (fits.status, fits.row_count) == ("ok", 49)


def _selects(mariadb) -> int:
    with mariadb.admin().connect() as connection, connection.cursor() as cursor:
        cursor.execute("SHOW GLOBAL STATUS LIKE 'Com_select'")
        return int(cursor.fetchone()[1])


def test_a_refused_statement_is_never_sent(runner, mariadb):
    before = _selects(mariadb)
    outcome = runner.execute(f"SELECT `pk` FROM {T3}; DROP TABLE {T3}")
    assert outcome.status == "refused"
    assert outcome.error == "not executed: more than one statement (';' at char 37)"
    assert _selects(mariadb) == before
    assert runner.execute(f"SELECT count(*) FROM {T3}").rows == {"3": 1}  # the table is still there


def test_the_reader_can_only_read_validation_databases(mariadb, reference_database):
    reader = mariadb.reader()
    check_read_only(reader)
    with reader.connect(database=reference_database) as connection, connection.cursor() as cursor:
        for statement, code in [
            (f"DELETE FROM {T3}", 1142),  # DELETE command denied
            ("CREATE DATABASE pinolo_evil", 1044),
            ("SELECT * FROM mysql.user", 1142),
            (f"SELECT 1 FROM {T3} INTO OUTFILE '/tmp/pinoloft-outfile'", 1227),  # needs FILE
        ]:
            with pytest.raises(pymysql.err.MySQLError) as raised:
                cursor.execute(statement)
            assert raised.value.args[0] == code, statement
        # multi-statements are off at the protocol level: the server sees one malformed statement
        with pytest.raises(pymysql.err.ProgrammingError) as raised:
            cursor.execute(f"SELECT 1; DELETE FROM {T3}")
        assert raised.value.args[0] == 1064


def test_an_account_with_more_than_select_is_rejected(mariadb):
    admin = mariadb.admin()
    with pytest.raises(TargetError, match="may do more than read the validation databases"):
        check_read_only(admin)


def test_every_function_the_mariadb_notes_call_missing_is_missing(runner):
    for function in sorted(MARIADB.missing_functions):
        outcome = runner.execute(f"SELECT {function}(1)")
        assert outcome.status == "error", function
        assert outcome.error_code in (1305, 1370), (function, outcome.error)


def test_repeats_expose_a_non_deterministic_result(runner, reference_database):
    rows = run_pair(runner, item(f"SELECT RAND() FROM {T3}", f"SELECT `pk` FROM {T3}", True, reference_database), 3)
    assert [row["repeat_index"] for row in rows] == [0, 1, 2]
    assert len({row["original_digest"] for row in rows}) == 3  # the original changes every time: a flaky pair
    assert len({row["mutated_digest"] for row in rows}) == 1
