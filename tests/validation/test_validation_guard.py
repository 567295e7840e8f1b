"""The guard: one SELECT/WITH statement or a refusal naming why and where; data SQL of CREATE + INSERT only."""

from __future__ import annotations

import subprocess
import sys

import pymysql
import pytest
from validation_helpers import ROOT

from mutations.formats import OUTPUT_DATA_SQL
from mutations.parser import parse
from simulator.querygen import QueryGenerator
from validation import DataSqlError, split_data_sql, statement_refusal
from validation.guard import MAX_DATA_SQL_CHARS, MAX_STATEMENT_CHARS

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
    "SELECT 1 -- x\r\n, 2",
    "SELECT 'a\tb\x01\u00a0', `x\u00a0y`, été FROM t",
    "SELECT 1--1, \\N, 1.5e+10, .5E3, 1.",
    "SELECT 1 # last line comment",
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
    # issue 11: the server reads a comment at `--` + a control character (or a no-break space on a latin1
    # connection), and runs the INTO the old guard read as part of a string
    ("SELECT 'x' --\x01 '\nINTO @v #'",
     "'--' followed by U+0001 at char 11: only '-- ' with a space is read as a comment here"),
    ("SELECT 'x' --\u00a0 '\nINTO @v #'",
     "'--' followed by U+00A0 at char 11: only '-- ' with a space is read as a comment here"),
    ("SELECT /*+ MAX_EXECUTION_TIME(0) */ 1",
     "optimizer hint comment '/*+' at char 7 (MySQL reads hints in it, MariaDB does not)"),
    ("SELECT 1\x00; DROP TABLE t", "NUL character at char 8"),
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
        ("create table t (a varchar(3) default 'x", "x.sql: statement 1: unterminated string literal at char 37; not loaded"),
        (" ; ", "x.sql: holds no statement"),
        # issue 11's hostile data SQL: an executable comment read as whitespace, a file read, a minute of sleep
        ("INSERT INTO /*!mysql.*/global_priv VALUES ('localhost', 'x', '{}')",
         "x.sql: statement 1: executable comment '/*!' at char 12; not loaded"),
        ("CREATE TABLE u (a INT) /*!50000 DATA DIRECTORY='/some/path' */",
         "x.sql: statement 1: executable comment '/*!' at char 23; not loaded"),
        ("create table t (a text);\ninsert into t values (LOAD_FILE('/etc/passwd'))",
         "x.sql: statement 2: LOAD_FILE(…) at char 47: only literal values may be loaded"),
        ("INSERT INTO t VALUES (SLEEP(60))", "x.sql: statement 1: SLEEP(…) at char 22: only literal values may be loaded"),
        ("insert into t values ((select 1))", "x.sql: statement 1 reads other tables (SELECT); only literal rows may be loaded"),
        ("insert into t values ((1))", "x.sql: statement 1: '(' at char 22: only literal values may be loaded"),
        ("insert into t values (1 + 1)", "x.sql: statement 1: '+' at char 24: only literal values may be loaded"),
        ("insert into t values (a)", "x.sql: statement 1: 'a' at char 22: only literal values may be loaded"),
        ("insert into t values (1) on duplicate key update a = 2",
         "x.sql: statement 1: 'on' at char 25: nothing may follow the VALUES rows"),
        ("insert into t set a = 1", "x.sql: statement 1: 'set' at char 14: only INSERT … VALUES (literal, …) is loaded"),
        ("insert into t values (x'4g')", "x.sql: statement 1: malformed x'4g' at char 22; not loaded"),
        ("create table t like u", "x.sql: statement 1: LIKE at char 15 copies another table's definition; not loaded"),
        ("create table t (a int) as values (1)",
         "x.sql: statement 1: AS at char 23 computes columns or copies a query's result; not loaded"),
        ("create table t (a int, b int as (a + 1))",
         "x.sql: statement 1: AS at char 29 computes columns or copies a query's result; not loaded"),
        ("create table t (a int, b int generated always as (a) virtual)",
         "x.sql: statement 1: GENERATED at char 29 declares a generated column; not loaded"),
        ("create table t (a int default (sleep(5)))", "x.sql: statement 1: DEFAULT '(' at char 30: only literal defaults are loaded"),
        ("create table t (a int default rand())", "x.sql: statement 1: DEFAULT 'rand' at char 30: only literal defaults are loaded"),
        ("create table t (a int check (a > 0))", "x.sql: statement 1: CHECK at char 22 declares a CHECK expression; not loaded"),
        ("create table t (a int references u (a))",
         "x.sql: statement 1: REFERENCES at char 22 declares a foreign key to another table; not loaded"),
        ("create table t (a int, foreign key (a) references u (a))",
         "x.sql: statement 1: FOREIGN at char 23 declares a foreign key to another table; not loaded"),
        ("create table t (a int) partition by hash (a)", "x.sql: statement 1: PARTITION at char 23 declares partitions; not loaded"),
        ("create table t (a int) union = (u)", "x.sql: statement 1: UNION at char 23 merges other tables (UNION=); not loaded"),
        ("create table t (a int comment concat('x'))", "x.sql: statement 1: concat(…) at char 30: function calls are not loaded"),
        ("create table t (a timestamp on update now())", "x.sql: statement 1: ON at char 28: only ON UPDATE CURRENT_TIMESTAMP is loaded"),
        ("insert into t values ('a\x00')", "x.sql: statement 1: NUL character at char 24; not loaded"),
    ],
)
def test_data_sql_with_anything_but_local_tables_and_literal_rows_is_rejected(text, message):
    with pytest.raises(DataSqlError) as raised:
        split_data_sql(text, "x.sql")
    assert str(raised.value) == message


# Every literal form the data-SQL check accepts, and the CREATE TABLE clauses it keeps.
LITERALS_SQL = """\
CREATE TABLE IF NOT EXISTS `all literals` (
  a int NOT NULL DEFAULT -1, b varchar(5) DEFAULT 'x' COLLATE utf8mb4_bin, c decimal(10, 2) DEFAULT NULL,
  d timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, e enum('p', 'q'), f varbinary(4),
  g bit(3), h date, KEY k (b), UNIQUE KEY u USING BTREE (c), PRIMARY KEY (a)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT IGNORE INTO `all literals` (a, b, c, f, g, h) VALUES
  (1, _utf8mb4'x', +3.5e2, X'4142', b'101', DATE '2020-01-02'),
  (-2, N'y', -0.25, 0x43, 0b11, '2021-03-04'), (3, 'a' "b", NULL, '', DEFAULT, NULL);
insert into `all literals` value (4, 'it''s\\\\', TRUE, DEFAULT, 'q', 'd', FALSE, NULL);
insert into `all literals` () values ();
"""


def test_every_accepted_literal_form_loads_on_the_server(mariadb):
    statements = split_data_sql(LITERALS_SQL, "x.sql")
    assert [(statement.kind, statement.table) for statement in statements] == [
        ("create", "all literals"), ("insert", "all literals"), ("insert", "all literals"), ("insert", "all literals")]
    connection = mariadb.admin().connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute("DROP DATABASE IF EXISTS guard_literals")
            cursor.execute("CREATE DATABASE guard_literals")
            connection.select_db("guard_literals")
            for statement in statements:
                cursor.execute(statement.sql)
            cursor.execute("SELECT a, b, CAST(c AS CHAR), HEX(f), g + 0, CAST(h AS CHAR) FROM `all literals` ORDER BY a")
            rows = cursor.fetchall()
            cursor.execute("DROP DATABASE guard_literals")
    finally:
        connection.close()
    assert rows == (
        (-2, "y", "-0.25", "43", 3, "2021-03-04"), (-1, "x", None, None, None, None), (1, "x", "350.00", "4142", 5, "2020-01-02"),
        (3, "ab", None, "", None, None), (4, "it's\\", "1.00", "64", 0, None),
    )


def test_refused_guard_texts_would_have_run_a_hidden_into_on_the_server(mariadb):
    """What the server does with the texts the old guard accepted: proof the refusals above matter."""
    endpoint = mariadb.admin()
    for charset, sql in (("utf8mb4", "SELECT 'x' --\x01 '\nINTO @v #'"), ("latin1", "SELECT 'x' --\u00a0 '\nINTO @v #'")):
        connection = pymysql.connect(unix_socket=endpoint.unix_socket, host=endpoint.host, port=endpoint.port,
                                     user=endpoint.user, password=endpoint.password, charset=charset)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET @v = 'unset'")
                cursor.execute(sql)
                cursor.execute("SELECT @v")
                assert cursor.fetchone() == ("x",)  # the INTO after the line break ran
        finally:
            connection.close()
        assert statement_refusal(sql) is not None


def run_guard_in_a_child(expression: str, deadline_s: float = 20.0) -> str:
    """Run statement_refusal on a text built in a child process; its reason, or fail if it takes longer than the
    deadline (generous: a linear reading takes well under a second, the quadratic one took hours on these)."""
    code = f"from validation import statement_refusal\nprint(statement_refusal({expression}))"
    try:
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                              timeout=deadline_s, check=True)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the guard did not finish within {deadline_s} s on {expression}")
    return done.stdout.strip()


def test_the_quadratic_inputs_of_issue_11_are_refused_at_the_size_limit():
    # 1,000,009 and 1,047,000 characters, just under the limit: the old guard rescanned to the end at each of
    # the 500,000 quotes or 349,000 comment openers (about 25 s at 40,000 already).
    assert run_guard_in_a_child("'SELECT 1 ' + \"'\\\\\" * 500_000") == "unterminated string literal at char 9"
    assert run_guard_in_a_child("'/*x' * 349_000") == "unterminated /* comment at char 0"


def test_statements_over_the_size_limit_are_refused_unread():
    sql = "SELECT 1" + " " * MAX_STATEMENT_CHARS
    assert statement_refusal(sql) == (
        f"statement of {MAX_STATEMENT_CHARS + 8} characters is over the {MAX_STATEMENT_CHARS} character limit")
    with pytest.raises(DataSqlError) as raised:
        split_data_sql("-" * (MAX_DATA_SQL_CHARS + 1), "x.sql")
    assert str(raised.value) == f"x.sql: {MAX_DATA_SQL_CHARS + 1} characters, over the {MAX_DATA_SQL_CHARS} character limit; not read"
