"""The runner's own reading of results (column encodings straight from the column definitions, row strings
straight from the row packets) gives exactly what pymysql's reader gives, on a real MariaDB: NULLs, empty
strings, cells of 251 bytes and more (longer length prefixes), binary cells, BIT, non-ASCII text, numbers and
dates, and statements without a result set."""

from __future__ import annotations

from collections import Counter

import pytest

from mutations.oracle import result_digest, row_string
from validation.runner import _column_charset_and_type, _row_text

STATEMENTS = [
    "SELECT NULL, 1, NULL UNION ALL SELECT 'a', NULL, ''",
    "SELECT '', ''",
    "SELECT '' UNION ALL SELECT ''",
    "SELECT REPEAT('x', 250), REPEAT('y', 251), REPEAT('é', 200)",
    "SELECT REPEAT('z', 70000), 1",
    "SELECT BINARY 'a', UNHEX('FF00FE'), CAST('b' AS BINARY(3)), b'101', UNHEX(REPEAT('FF', 300))",
    "SELECT JSON_OBJECT('k', 1), JSON_ARRAY(1, 'é')",
    "SELECT 'ñandú', CONVERT('x' USING ucs2), CAST('2020-01-02' AS DATE), 1.50, 1e300, -0.0, 18446744073709551615",
    "SELECT TIMESTAMP'2020-01-01 10:00:00.123456', TIME'-838:59:59', YEAR(CAST('2021-05-01' AS DATE))",
    "SELECT `col_char(20)_undef_signed`, `pk` FROM `table_3_utf8_undef` ORDER BY `pk`",
    "SELECT 1 FROM `table_3_utf8_undef` WHERE 1 = 0",
]


@pytest.fixture
def runner(open_runner):
    return open_runner(timeout_s=5.0, row_cap=1000)


@pytest.fixture
def pymysql_rows(mariadb, reference_database):
    """Each statement's row strings as pymysql's own reader makes them (cells as the server's text)."""
    connection = mariadb.reader().connect(database=reference_database, raw_cells=True)
    try:
        def rows(sql: str) -> tuple[list[str], int]:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return [row_string(row) for row in cursor.fetchall()], len(cursor.description or ())
        yield rows
    finally:
        connection.close()


@pytest.mark.parametrize("sql", STATEMENTS)
def test_row_strings_and_digests_are_pymysqls(runner, pymysql_rows, sql):
    expected, columns = pymysql_rows(sql)
    for outcome in (runner.execute(sql), runner.execute_all([(runner._database, sql)])[0]):
        assert outcome.status == "ok", outcome.error
        assert outcome.rows == Counter(expected)
        assert (outcome.row_count, outcome.column_count) == (len(expected), columns)
        assert outcome.digest == result_digest(expected)


def test_the_edge_cells_read_as_expected(runner):
    assert list(runner.execute("SELECT NULL, 1, NULL UNION ALL SELECT 'a', NULL, ''").rows) == ["NULL,1,NULL", "a,NULL,"]
    # A binary cell keeps its bytes (undecodable ones as surrogates), as PINOLO's row strings do.
    assert list(runner.execute("SELECT UNHEX('FF00FE'), b'101'").rows) == ["\udcff\x00\udcfe,\x05"]
    assert list(runner.execute("SELECT REPEAT('y', 251), REPEAT('é', 200)").rows) == ["y" * 251 + "," + "é" * 200]
    assert runner.execute("SELECT '', ''").rows == Counter({",": 1})
    assert runner.execute("SELECT ''").rows == Counter({"": 1})


def test_a_statement_without_a_result_set_has_no_columns(runner):
    # The guard lets no such statement through; the reader below it still reads the server's OK packet.
    outcome = runner._finish(runner._run("DO 1"))
    assert (outcome.status, outcome.row_count, outcome.column_count, outcome.rows) == ("ok", 0, 0, Counter())
    assert runner.connection._result.field_count == 0 and runner.execute("SELECT 2").rows == Counter({"2": 1})


def test_row_text_reads_one_byte_lengths_and_nulls_and_leaves_the_rest_to_pymysql():
    assert _row_text(b"\x01a\xfb\x00", ["utf8", "ascii", None]) == "a,NULL,"
    assert _row_text(b"\x02\xc3\xa9", ["utf8"]) == "é"
    assert _row_text(b"\x02\xff\xfe", [None]) == "\udcff\udcfe"
    # Fewer cells than columns: pymysql's reader stops at the packet's end, and so does this one.
    assert _row_text(b"\x01a", ["utf8", "utf8"]) == "a"
    # A 2-byte length (0xfc), a truncated cell and an 0xff byte are not read here.
    assert _row_text(b"\xfc\x00\x01" + b"x" * 256, ["utf8"]) is None
    assert _row_text(b"\x05ab", ["utf8"]) is None
    assert _row_text(b"\xff", ["utf8"]) is None


def test_column_definitions_give_charset_and_type():
    def definition(*strings: bytes, charset: int, type_code: int) -> bytes:
        head = b"".join(bytes([len(text)]) + text for text in strings)
        return head + b"\x0c" + charset.to_bytes(2, "little") + (20).to_bytes(4, "little") + bytes([type_code]) + b"\x00" * 5

    assert _column_charset_and_type(definition(b"def", b"db", b"t", b"t", b"c", b"c", charset=63, type_code=253),
                                    "utf8") == (63, 253)
    # A name of 251 bytes or more has a longer length prefix: pymysql's own parser reads it.
    long_name = b"n" * 300
    packet = (b"\x03def" + b"\x00" * 3 + b"\xfc" + (300).to_bytes(2, "little") + long_name + b"\x00"
              + b"\x0c" + (45).to_bytes(2, "little") + (80).to_bytes(4, "little") + bytes([15]) + b"\x00" * 5)
    assert _column_charset_and_type(packet, "utf8") == (45, 15)
