"""PINOLO's on-disk formats: Go JSON/time/duration/quote conventions, bug .log/.json, records, names."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

import mutations
from mutations.formats import (
    COLUMNS,
    KEY_COLUMNS,
    OUTPUT_DATA_SQL,
    PINOLO_MUTATION_NAMES,
    TABLES,
    BugFileName,
    BugLog,
    BugReport,
    FormatError,
    GoTime,
    PoolResult,
    QueryResult,
    TaskConfig,
    TaskResult,
    bug_file_name,
    bug_json,
    format_bug_log,
    go_duration,
    go_json,
    go_quote,
    go_unquote,
    is_known_mutation,
    logrus_line,
    parse_bug_file_name,
    parse_bug_json,
    parse_bug_log,
    parse_go_duration,
    parse_go_time,
    parse_logrus_line,
    parse_pool_result,
    parse_task_config,
    parse_task_result,
    pool_result_json,
    task_config_json,
    task_result_json,
)

# 2022-12-23 09:53:25 +0800 as Unix seconds.
T0 = 1671760405


# -- Go encoding/json ------------------------------------------------------------------------------------


def test_go_json_escapes_html_characters_like_go():
    assert go_json({"sql": "`a`<=1 AND `b`<>2 && c>3"}) == '{"sql":"`a`\\u003c=1 AND `b`\\u003c\\u003e2 \\u0026\\u0026 c\\u003e3"}'


def test_go_json_control_characters_and_quotes():
    assert go_json("a\nb\rc\td") == '"a\\nb\\rc\\td"'
    assert go_json("\x00\x01\x08\x0c\x1b\x1f") == '"\\u0000\\u0001\\u0008\\u000c\\u001b\\u001f"'
    assert go_json('say "hi" \\ bye') == '"say \\"hi\\" \\\\ bye"'
    assert go_json("\x7f") == '"\x7f"'  # DEL is not escaped by Go


def test_go_json_non_ascii_raw_but_line_separators_escaped():
    assert go_json("é中µ") == '"é中µ"'
    assert go_json("a\u2028b\u2029c") == '"a\\u2028b\\u2029c"'
    assert go_json("bad\udcff") == '"bad\\ufffd"'  # an undecodable byte becomes U+FFFD, as Go does


def test_go_json_compact_ordered_and_typed():
    assert go_json({"b": 1, "a": [True, False, None, -3], "c": {}}) == '{"b":1,"a":[true,false,null,-3],"c":{}}'
    assert go_json([1.0, 0.1, 1e20, 1e21, 1e-7, 1.5e-7, 123456789.125, 0.000001]) == (
        "[1,0.1,100000000000000000000,1e+21,1e-7,1.5e-7,123456789.125,0.000001]"
    )
    with pytest.raises(TypeError):
        go_json({1, 2})
    with pytest.raises(ValueError):
        go_json(float("nan"))


def test_go_json_agrees_with_json_loads():
    value = {"s": "x<y>&z\n\u2028é\x01", "n": [1, 2]}
    assert json.loads(go_json(value)) == value


# -- Go strconv.Quote --------------------------------------------------------------------------------------


def test_go_quote_and_unquote():
    assert go_quote("init ddl") == '"init ddl"'
    assert go_quote('a"b\\c') == '"a\\"b\\\\c"'
    assert go_quote("x\n\t\x07\x1b\x7f") == '"x\\n\\t\\a\\x1b\\x7f"'
    assert go_quote("é \u2028") == '"é \\u2028"'
    assert go_quote("\udcff") == '"\\xff"'
    for text in ("plain", "tab\tand\nnewline", 'q"uote', "é中 \u2028 \x00", "\udcff\udcfe"):
        assert go_unquote(go_quote(text)) == text
    with pytest.raises(FormatError):
        go_unquote('"unterminated')
    with pytest.raises(FormatError):
        go_unquote('"bad \\q escape"')


# -- times and durations -----------------------------------------------------------------------------------


def test_go_time_string_matches_pinolo_report_time():
    t = GoTime(T0 * 10**9 + 383603754, mono_ns=123_625_818_891)
    assert t.string() == "2022-12-23 09:53:25.383603754 +0800 CST m=+123.625818891"
    assert t.rfc3339() == "2022-12-23T09:53:25+08:00"


def test_go_time_trims_fraction_zeros_and_handles_utc():
    assert GoTime(T0 * 10**9 + 383600000).string() == "2022-12-23 09:53:25.3836 +0800 CST"
    assert GoTime(T0 * 10**9).string() == "2022-12-23 09:53:25 +0800 CST"
    utc = GoTime(T0 * 10**9 + 5, offset_s=0, zone="UTC", mono_ns=1_000_000_007)
    assert utc.string() == "2022-12-23 01:53:25.000000005 +0000 UTC m=+1.000000007"
    assert utc.rfc3339() == "2022-12-23T01:53:25Z"
    assert GoTime(T0 * 10**9, mono_ns=5).string().endswith(" m=+0.000000005")


def test_parse_go_time_round_trip_and_errors():
    t = GoTime(T0 * 10**9 + 383603754, mono_ns=123_625_818_891)
    assert parse_go_time(t.string()) == t
    assert parse_go_time("2022-12-23 09:53:25 +0800 CST") == GoTime(T0 * 10**9)
    assert t.plus(1_000).string() == "2022-12-23 09:53:25.383604754 +0800 CST m=+123.625819891"
    for bad in ("2022-12-23T09:53:25+08:00", "yesterday", "2022-13-40 09:53:25 +0800 CST"):
        with pytest.raises(FormatError):
            parse_go_time(bad)


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (1, "1ns"),
        (999, "999ns"),
        (1_000, "1µs"),
        (1_500, "1.5µs"),
        (850_000, "850µs"),
        (1_234_567, "1.234567ms"),
        (1_000_000, "1ms"),
        (1_200_000_000, "1.2s"),
        (59_999_999_999, "59.999999999s"),
        (61_500_000_000, "1m1.5s"),
        (7_200_000_000_000, "2h0m0s"),
        (-1_500_000_000, "-1.5s"),
    ],
)
def test_go_duration(ns, text):
    assert go_duration(ns) == text
    assert parse_go_duration(text) == ns


def test_go_duration_uses_micro_sign():
    assert go_duration(850_000).encode() == b"850\xc2\xb5s"
    with pytest.raises(FormatError):
        parse_go_duration("12 ms")


# -- logrus ------------------------------------------------------------------------------------------------


def test_logrus_line_quoting_rule():
    t = GoTime(1683702347 * 10**9)
    assert logrus_line(t, "info", "init ddl") == 'time="2023-05-10T15:05:47+08:00" level=info msg="init ddl"\n'
    assert logrus_line(t, "info", "Running") == 'time="2023-05-10T15:05:47+08:00" level=info msg=Running\n'
    assert logrus_line(t, "info", "[Rate]6/100") == 'time="2023-05-10T15:05:47+08:00" level=info msg="[Rate]6/100"\n'
    line = logrus_line(t, "error", 'bad "x"\n')
    assert line == 'time="2023-05-10T15:05:47+08:00" level=error msg="bad \\"x\\"\\n"\n'
    parsed = parse_logrus_line(line)
    assert (parsed.time, parsed.level, parsed.msg) == ("2023-05-10T15:05:47+08:00", "error", 'bad "x"\n')
    with pytest.raises(FormatError):
        parse_logrus_line("not a log line")


# -- bug .log ----------------------------------------------------------------------------------------------

RULE = "*" * 50
SQL_O = "SELECT (`f4`) AS `f1` FROM (SELECT `col_bigint_key_signed` AS `f4` FROM `table_3_utf8_undef`) AS `t1` HAVING (`f1`)>1"
SQL_M = "SELECT (`f4`) AS `f1` FROM (SELECT `col_bigint_key_signed` AS `f4` FROM `table_3_utf8_undef`) AS `t1` HAVING 1"


def _sample_log() -> BugLog:
    return BugLog(
        "FixMHaving1U",
        True,
        QueryResult((("f1", "BIGINT"), ("f2", "VARCHAR")), (("2", "well"), ("NULL", "3\t")), "1.234567ms"),
        QueryResult((("f1", "BIGINT"), ("f2", "VARCHAR")), (("2", "e"),), "850µs"),
        SQL_O,
        SQL_M,
    )


def test_format_bug_log_exact_layout():
    expected = (
        f"{RULE}\n[MutationName] FixMHaving1U\n{RULE}\n[IsUpper] true\n{RULE}\n[OriginalResult]\n"
        "ColumnName(ColumnType)s:  f1(BIGINT) f2(VARCHAR)\nrow 0: 2 well\nrow 1: NULL 3\t\n1.234567ms\n"
        f"{RULE}\n[MutatedResult]\n"
        "ColumnName(ColumnType)s:  f1(BIGINT) f2(VARCHAR)\nrow 0: 2 e\n850µs\n"
        f"{RULE}\n\n-- OriginalSql\n{SQL_O};\n-- MutatedSql\n{SQL_M};\n"
    )
    assert format_bug_log(_sample_log()) == expected
    assert parse_bug_log(expected) == _sample_log()


def test_bug_log_empty_result_error_line_newline_cells_and_datetimes():
    log = BugLog(
        "FixMDistinctL",
        False,
        QueryResult((), (), "0s"),
        QueryResult(
            (("f1", "DATETIME"), ("f2", "VARCHAR"), ("f3", "DOUBLE")),
            (("2008-05-25 12:03:43", "3\n", "1.5"), ("NULL", "\n3", ""), ("2001-01-01 00:00:00", "", "-0")),
            "2.5ms",
            error=None,
        ),
        SQL_O,
        SQL_M,
    )
    text = format_bug_log(log)
    assert "ColumnName(ColumnType)s: \n0s\n" in text  # empty result: bare header, then the duration
    assert parse_bug_log(text) == log
    with_error = BugLog(log.mutation_name, False, QueryResult((), (), "3ms", "Error 1054: Unknown column"),
                        log.mutated, SQL_O, SQL_M)
    text = format_bug_log(with_error)
    assert "ColumnName(ColumnType)s: \nError: Error 1054: Unknown column\n3ms\n" in text
    assert parse_bug_log(text) == with_error


def test_bug_log_ambiguous_row_is_reported():
    text = format_bug_log(
        BugLog("FixMOn1U", True, QueryResult((("f1", "VARCHAR"),), (("two words",),), "1ms"),
               QueryResult((), (), "1ms"), SQL_O, SQL_M)
    )
    parsed = parse_bug_log(text)
    assert parsed.original.ambiguous_rows == (0,)
    assert parsed.original.rows == (("two", "words"),)


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda t: "", "empty"),
        (lambda t: t[: t.index("-- MutatedSql")], "MutatedSql"),
        (lambda t: t[:-1], "MutatedSql does not end"),
        (lambda t: t.replace("[IsUpper] true", "[IsUpper] yes"), "IsUpper"),
        (lambda t: t.replace("1.234567ms", "fast"), "duration"),
        (lambda t: t.replace("[MutatedResult]", "[Mutated]"), "MutatedResult"),
        (lambda t: t.replace("row 0: 2 well", "line 0: 2 well"), "row 0"),
        (lambda t: t.replace("f1(BIGINT)", "f1[BIGINT]", 1), "name(TYPE)"),
        (lambda t: t.replace(f"{RULE}\n[MutationName]", "[MutationName]"), "opening rule"),
    ],
)
def test_parse_bug_log_names_what_is_wrong(mangle, message):
    with pytest.raises(FormatError, match=re.escape(message)):
        parse_bug_log(mangle(format_bug_log(_sample_log())))


# -- JSON records ------------------------------------------------------------------------------------------


def test_bug_json_exact_field_order_and_escaping():
    report = BugReport("2022-12-23 09:53:25.383603754 +0800 CST m=+123.625818891", 0, 317, "FixMCmpOpL", False,
                       "SELECT 1 FROM `t` WHERE `a`>=1", "SELECT 1 FROM `t` WHERE `a`>1")
    text = bug_json(report)
    assert text == (
        '{"reportTime":"2022-12-23 09:53:25.383603754 +0800 CST m=+123.625818891","bugId":0,"sqlId":317,'
        '"mutationName":"FixMCmpOpL","isUpper":false,"originalSql":"SELECT 1 FROM `t` WHERE `a`\\u003e=1",'
        '"mutatedSql":"SELECT 1 FROM `t` WHERE `a`\\u003e1"}'
    )
    assert parse_bug_json(text) == report
    assert parse_bug_json(text.encode()) == report
    assert report.key == "0-317-FixMCmpOpL"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b'{"reportTime":"x","bugId":0,"sqlId"', "invalid JSON"),
        (b'{"reportTime":"\xc3\x28"}', "UTF-8"),
        (b"[1]", "JSON object"),
        (b'{"reportTime":"x","bugId":0,"sqlId":1,"mutationName":"FixMOn1U","isUpper":true,"originalSql":"a"}',
         "mutatedSql"),
        (b'{"reportTime":"x","bugId":"0","sqlId":1,"mutationName":"FixMOn1U","isUpper":true,"originalSql":"a",'
         b'"mutatedSql":"b"}', "bugId"),
        (b'{"reportTime":"x","bugId":0,"sqlId":1,"mutationName":"FixMOn1U","isUpper":1,"originalSql":"a",'
         b'"mutatedSql":"b"}', "isUpper"),
    ],
)
def test_parse_bug_json_errors(data, message):
    with pytest.raises(FormatError, match=message):
        parse_bug_json(data)


def test_task_result_pool_result_and_config_field_order():
    result = TaskResult("s", 4, 100, "i", 1, 2, 0, 1234, 0, 3, 7, 0, "e")
    text = task_result_json(result)
    assert text == ('{"startTime":"s","ddlSqlsNum":4,"dmlSqlsNum":100,"endInitTime":"i","stage1ErrNum":1,'
                    '"stage1ExecErrNum":2,"stage2ErrNum":0,"stage2UnitNum":1234,"stage2UnitErrNum":0,'
                    '"stage2UnitExecErrNum":3,"impoBugsNum":7,"saveBugErrNum":0,"endTime":"e"}')
    assert parse_task_result(text) == result

    pool = PoolResult("s", 3, 2, 0, (), 12, (1, 0), "e")
    text = pool_result_json(pool)
    assert text == ('{"startTime":"s","totalTaskNum":3,"finishedTaskNum":2,"errorTaskNum":0,"errorTaskIds":[],'
                    '"bugsNum":12,"bugTaskIds":[1,0],"endTime":"e"}')
    assert parse_pool_result(text) == pool
    assert parse_pool_result(text.replace('"errorTaskIds":[]', '"errorTaskIds":null')) == pool

    config = TaskConfig("/abs/output", "mysql", 0, "127.0.0.1", 13306, "root", "123456", "TEST0", 123456,
                        "/abs/output/mysql/task-0/output.data.sql", "/abs/output/mysql/task-0/output.rand.sql",
                        "/abs/resources/go-randgen", "/abs/resources/impo.zz.lua", "/abs/resources/impo.yy", 100, False)
    text = task_config_json(config)
    assert text == (
        '{"outputPath":"/abs/output","dbms":"mysql","taskId":0,"host":"127.0.0.1","port":13306,"username":"root",'
        '"password":"123456","dbname":"TEST0","seed":123456,"ddlPath":"/abs/output/mysql/task-0/output.data.sql",'
        '"dmlPath":"/abs/output/mysql/task-0/output.rand.sql","rdGenPath":"/abs/resources/go-randgen",'
        '"zzPath":"/abs/resources/impo.zz.lua","yyPath":"/abs/resources/impo.yy","queriesNum":100,"needDML":false}'
    )
    assert parse_task_config(text) == config
    with pytest.raises(FormatError, match="unexpected field"):
        parse_task_config(text[:-1] + ',"extra":1}')


# -- file names --------------------------------------------------------------------------------------------


def test_bug_file_names():
    assert bug_file_name(3, 317, "FixMDistinctL", "json") == "bug-3-317-FixMDistinctL.json"
    parsed = parse_bug_file_name("bug-3-317-FixMDistinctL.log")
    assert parsed == BugFileName(3, 317, "FixMDistinctL", "log")
    assert parsed.key == "3-317-FixMDistinctL"
    assert str(parsed) == "bug-3-317-FixMDistinctL.log"
    assert parse_bug_file_name("bug-0-0-RdMBetweenU.json").mutation_name == "RdMBetweenU"
    assert not is_known_mutation("RdMBetweenU")
    for bad in ("bug-3-317-FixMDistinctL.txt", "bug-x-1-FixMOn1U.json", "bug-1-FixMOn1U.json", "bug-01-1-A.json",
                "result.json"):
        with pytest.raises(FormatError, match="bug file name"):
            parse_bug_file_name(bad)
    with pytest.raises(ValueError):
        bug_file_name(1, 2, "FixMOn1U", "txt")


def test_mutation_names_match_the_engine():
    assert PINOLO_MUTATION_NAMES is mutations.STRATEGIES
    assert all(is_known_mutation(name) for name in mutations.STRATEGIES)


# -- output.data.sql ---------------------------------------------------------------------------------------


def test_output_data_sql_is_byte_exact():
    assert len(OUTPUT_DATA_SQL) == 3660
    assert hashlib.sha256(OUTPUT_DATA_SQL).hexdigest() == "ab7e92ac0afda335a725160187966d5f3c5214b1ae2027749a2304abd527b78b"
    assert OUTPUT_DATA_SQL.startswith(b"create table table_3_utf8_undef (\n`pk` int primary key,\n")
    assert OUTPUT_DATA_SQL.endswith(b",\"know\",'-0','\n3','3\n');")
    assert OUTPUT_DATA_SQL.count(b";\n") == 3 and not OUTPUT_DATA_SQL.endswith(b"\n")
    assert b"`col_decimal(40, 20)_key_unsigned` decimal(40, 20) unsigned ,\n" in OUTPUT_DATA_SQL
    assert b") character set utf8 ;\ninsert into table_3_utf8_undef values (0,82.1847," in OUTPUT_DATA_SQL


def test_schema_constants():
    assert TABLES == ("table_3_utf8_undef", "table_7_utf8_undef")
    assert len(COLUMNS) == 20 and len(set(COLUMNS)) == 20
    assert len(KEY_COLUMNS) == 10 and all("_key_" in c for c in KEY_COLUMNS)
    assert COLUMNS[0] == "col_bigint_undef_signed" and COLUMNS[-1] == "col_varchar(20)_key_signed"
