"""The SQL reader on MySQL forms that hand-written bug reports use: read as opaque where PINOLO's visitor
does not go, or refused with a reason that names what is refused."""

from __future__ import annotations

import pytest

from mutations import SqlSyntaxError, candidates, check
from mutations.parser import parse


def points(sql: str) -> list[tuple[str, bool, str]]:
    return [(c.strategy, c.is_upper, sql[c.start:c.end]) for c in candidates(sql)]


def test_match_against_is_one_opaque_operand():
    sql = ("select a from t where match (a, b) against ('x' in boolean mode) > 0 "
           "and match (b) against ((select b from u where b > 1 and 'x' like 'x%'))")
    parse(sql)
    where = sql[sql.index("where ") + 6:]
    # Only the comparison outside MATCH is a point; nothing inside its arguments, not even the subquery.
    assert points(sql) == [
        ("FixMCmpOpU", True, ">"),
        ("FixMDistinctL", False, ""),
        ("FixMWhere1U", True, where),
        ("FixMWhere0L", False, where),
    ]


def test_json_table_is_one_opaque_table():
    sql = ("select jt.x from json_table((select j from u where a > 1), '$[*]' columns (x int path '$', "
           "nested path '$.b[*]' columns (y int path '$'))) as jt join v on jt.x = v.x where jt.x in (1)")
    parse(sql)
    assert points(sql) == [
        ("FixMCmpOpU", True, "="),
        ("FixMOn1U", True, "jt.x = v.x"),
        ("FixMOn0L", False, "jt.x = v.x"),
        ("FixMInNullU", True, ""),
        ("FixMDistinctL", False, ""),
        ("FixMWhere1U", True, "jt.x in (1)"),
        ("FixMWhere0L", False, "jt.x in (1)"),
    ]
    # An alias without AS, and JSON_TABLE as the only table.
    assert points("SELECT * FROM JSON_TABLE('[1]', '$[*]' COLUMNS (x INT PATH '$')) jt") == [
        ("FixMDistinctL", False, "")]


def test_typed_temporal_literals_are_opaque_operands():
    sql = ("select a from t where d = date '2020-01-01' and time '10:00' like '10%' "
           "and '2020%' like timestamp '2020-01-01 00:00:00'")
    parse(sql)
    where = sql[sql.index("where ") + 6:]
    # The literals are no strings to the LIKE mutators: no RdMLike point on either LIKE.
    assert points(sql) == [
        ("FixMCmpOpU", True, "="),
        ("FixMDistinctL", False, ""),
        ("FixMWhere1U", True, where),
        ("FixMWhere0L", False, where),
    ]
    # DATE(x) and a column named time are still what they were.
    assert points("select a from t where date(d) > 1 and `time` < 2") == [
        ("FixMCmpOpU", True, ">"),
        ("FixMCmpOpU", True, "<"),
        ("FixMDistinctL", False, ""),
        ("FixMWhere1U", True, "date(d) > 1 and `time` < 2"),
        ("FixMWhere0L", False, "date(d) > 1 and `time` < 2"),
    ]


INTO = "SELECT … INTO is refused: it stores the result in variables or a file instead of returning it"
ASSIGN = ("the assignment operator := is refused: a query that assigns user variables depends on the order in "
          "which the server evaluates it")


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("select a into @x from t",
         f"{INTO} near 'into' at line 1, column 10 (char 9): …select a into @x from t…"),
        ("select a from t where a > 1 into outfile '/tmp/x'",
         f"{INTO} near 'into' at line 1, column 29 (char 28): … from t where a > 1 into outfile '/tmp/x…"),
        ("select a from (select b into @y from u) as v",
         f"{INTO} near 'into' at line 1, column 25 (char 24): …ct a from (select b into @y from u) as v…"),
        ("select @a := 1 from t",
         f"{ASSIGN} near ':=' at line 1, column 11 (char 10): …select @a := 1 from t…"),
        ("select a from t where (@n := @n + 1) > 2",
         f"{ASSIGN} near ':=' at line 1, column 27 (char 26): … a from t where (@n := @n + 1) > 2…"),
    ],
)
def test_into_and_assignment_are_refused_with_a_reason(sql, message):
    with pytest.raises(SqlSyntaxError) as raised:
        parse(sql)
    assert str(raised.value) == message


def test_a_second_statement_is_still_reported_as_such():
    with pytest.raises(SqlSyntaxError) as raised:
        parse("select 1; insert into t values (1)")
    assert raised.value.reason == "more than one statement near 'insert'"


def test_check_on_a_refused_original_says_why():
    verdict = check("select a into @x from t where a > 1", "select a into @x from t where 1", "FixMWhere1U")
    assert (verdict.conforms, verdict.kind) == (False, "original_unreadable")
    assert verdict.reason == (f"original SQL is not a readable SELECT: {INTO} near 'into' at line 1, column 10 "
                              "(char 9): …select a into @x from t where…")
