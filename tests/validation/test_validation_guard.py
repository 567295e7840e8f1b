"""The guard: one SELECT/WITH statement or a refusal naming why and where; data SQL of CREATE + INSERT only."""

from __future__ import annotations

import pytest

from mutations.formats import OUTPUT_DATA_SQL
from mutations.parser import parse
from mutations.querygen import QueryGenerator
from validation import DataSqlError, split_data_sql, statement_refusal

ACCEPTED = [
    "SELECT 1",
    "select 1;",
    "SELECT 1 ;  \n",
    "  (SELECT 1) UNION (SELECT 2)",
    "SELECT 'a;b', \"c;d\", `e;f` FROM t",
    "SELECT 'it''s \\' ; ' FROM t",
    "SELECT `into` FROM t",
    "SELECT 1 -- ; DROP TABLE t\n",
    "SELECT 1 # ; DROP TABLE t\n",
    "SELECT /* ; INTO */ 1",
    "SELECT A.SELECTED, INTOX FROM A",
    "WITH x(a) AS (SELECT 1), y AS (SELECT 2) SELECT * FROM x, y",
    "WITH RECURSIVE r AS (SELECT 1 UNION SELECT 2) (SELECT * FROM r)",
    "WITH `MY WITH` AS (SELECT 'x)' AS c) SELECT c FROM `MY WITH`",
]

REFUSED = [
    ("SELECT 1; DROP TABLE x", "more than one statement (';' at char 8)"),
    ("SELECT 1 --; DROP TABLE x", "more than one statement (';' at char 11)"),
    ("DROP TABLE t", "not a SELECT or WITH statement: starts with 'DROP'"),
    ("UPDATE t SET a = 1", "not a SELECT or WITH statement: starts with 'UPDATE'"),
    ("SELECT * INTO OUTFILE '/tmp/x' FROM t", "SELECT … INTO writes outside the result set (INTO at char 9)"),
    ("SELECT 1 FROM t INTO @v", "SELECT … INTO writes outside the result set (INTO at char 16)"),
    ("SELECT /*! INTO OUTFILE 'x' */ 1", "executable comment '/*!' at char 7"),
    ("SELECT /*M!100000 1 */ 1", "executable comment '/*M!' at char 7"),
    ("SELECT @a := 1", "variable assignment ':=' at char 10"),
    ("SELECT 'abc", "unterminated string literal at char 7"),
    ("SELECT `abc", "unterminated backquoted identifier at char 7"),
    ("SELECT 1 /* open", "unterminated /* comment at char 9"),
    ("SELECT (1", "unbalanced parentheses: 1 '(' and 0 ')'"),
    ("WITH x AS (SELECT 1) DELETE FROM t", "WITH must be followed by a SELECT, found 'DELETE'"),
    ("WITH x AS (SELECT 1) UPDATE t SET a = 1", "WITH must be followed by a SELECT, found 'UPDATE'"),
    ("WITH SELECT 1", "WITH is not followed by a common table expression name"),
    ("WITH x SELECT 1", "a common table expression lacks AS (…)"),
    ("", "empty statement"),
    ("  -- only a comment\n", "empty statement"),
]


@pytest.mark.parametrize("sql", ACCEPTED)
def test_one_select_or_with_statement_is_accepted(sql):
    assert statement_refusal(sql) is None


@pytest.mark.parametrize(("sql", "reason"), REFUSED)
def test_anything_else_is_refused_with_the_reason_and_position(sql, reason):
    assert statement_refusal(sql) == reason


def test_the_guard_accepts_every_generated_query_the_engine_parses_as_a_select():
    generator = QueryGenerator(seed=7)
    queries = [generator.query() for _ in range(300)]
    generator = QueryGenerator(seed=8, all_strategies=True)
    queries += [generator.query() for _ in range(300)]
    for sql in queries:
        parse(sql)  # the engine's parser reads it as a single SELECT
        assert statement_refusal(sql) is None, sql


def test_the_reference_data_sql_splits_into_two_tables_and_two_inserts():
    statements = split_data_sql(OUTPUT_DATA_SQL.decode())
    assert [(statement.kind, statement.table) for statement in statements] == [
        ("create", "table_3_utf8_undef"), ("insert", "table_3_utf8_undef"),
        ("create", "table_7_utf8_undef"), ("insert", "table_7_utf8_undef"),
    ]
    assert statements[1].sql.startswith("insert into table_3_utf8_undef values (0,82.1847,")
    # the LF and TAB inside the '3…' strings stay inside their statement
    assert "'3\n'" in statements[1].sql and "'3\t'" in statements[1].sql


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("create table t (a int);\ndrop database mysql", "x.sql: statement 2 is not CREATE TABLE or INSERT: starts with 'drop database'"),
        ("insert into mysql.user values (1)", "x.sql: statement 1 names a table in another database: 'mysql.user'"),
        ("insert into t select * from mysql.user", "x.sql: statement 1 reads other tables (SELECT); only literal rows may be loaded"),
        ("create table t (a int) data directory = '/etc'", "x.sql: statement 1 sets DIRECTORY (storage outside the database); not loaded"),
        ("create table t (a int) engine = CONNECT", "x.sql: statement 1 uses ENGINE CONNECT; only local storage engines are loaded"),
        ("insert into t", "x.sql: statement 1 inserts no VALUES"),
        ("create table t (a varchar(3) default 'x", "x.sql: cannot be read: unterminated string literal"),
        (" ; ", "x.sql: holds no statement"),
    ],
)
def test_data_sql_with_anything_but_local_tables_and_literal_rows_is_rejected(text, message):
    with pytest.raises(DataSqlError) as raised:
        split_data_sql(text, "x.sql")
    assert str(raised.value).startswith(message)
