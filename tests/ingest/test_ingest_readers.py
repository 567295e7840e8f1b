"""The fast bug-log summary agrees with the strict parser on every input; the non-SELECT pre-filter never
lets a non-SELECT or a second statement through."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.logsummary import _duration_ns, _fast, _from_log, summarize
from ingest.readers import _Bug, _parse_bug, statement_problem
from mutations.errors import SqlSyntaxError
from mutations.formats import (
    FormatError,
    go_duration,
    parse_bug_json,
    parse_bug_log,
    parse_go_duration,
)
from mutations.parser import parse


def _strict(text):
    try:
        return _from_log(parse_bug_log(text))
    except FormatError as error:
        return ("error", str(error))


def _ours(text):
    try:
        return summarize(text)
    except FormatError as error:
        return ("error", str(error))


def _logs(source_root, limit=400):
    paths = sorted(source_root.glob("**/task-*/*/*.log"))
    return [p.read_text(encoding="utf-8") for p in paths[:limit]]


def test_generated_logs_take_the_fast_path_and_agree(faulty_source):
    root, _, _ = faulty_source
    texts = _logs(root, limit=100_000)
    assert len(texts) > 500
    for text in texts:
        assert _fast(text) is not None
        assert _ours(text) == _strict(text)


def _variants(text: str, rng: random.Random):
    lines = text.split("\n")
    yield text[: rng.randrange(len(text))]  # cut
    yield text[:-1]  # no final newline
    k = rng.randrange(len(lines))
    yield "\n".join(lines[:k] + lines[k + 1:])  # a line lost
    yield "\n".join(lines[:k] + [lines[k]] + lines[k:])  # a line doubled
    yield "\n".join(lines[:k] + ["row 1: x y"] + lines[k:])  # a row-like continuation line
    yield "\n".join(lines[:k] + ["row 00: 1"] + lines[k:])
    yield "\n".join(lines[:k] + ["Error: something failed"] + lines[k:])
    yield "\n".join(lines[:k] + [""] + lines[k:])
    yield text.replace("row 0: ", "row 0:", 1)
    yield text.replace("ColumnName(ColumnType)s:  ", "ColumnName(ColumnType)s: ", 1)
    yield text.replace("[IsUpper] true", "[IsUpper] yes", 1).replace("[IsUpper] false", "[IsUpper] no", 1)
    at = rng.randrange(len(text))
    yield text[:at] + rng.choice(["\n", " ", "row 2:", "*" * 50, "ms", "(", ")"]) + text[at:]


def test_damaged_logs_get_the_strict_verdict(faulty_source):
    root, _, _ = faulty_source
    rng = random.Random(5)
    checked = 0
    for text in _logs(root, limit=300):
        for variant in _variants(text, rng):
            assert _ours(variant) == _strict(variant), variant
            checked += 1
    assert checked > 3000


HANDMADE = [
    ("**************************************************\n[MutationName] FixMOn1U\n"
     "**************************************************\n[IsUpper] true\n"
     "**************************************************\n[OriginalResult]\nColumnName(ColumnType)s: \n0s\n"
     "**************************************************\n[MutatedResult]\n"
     "ColumnName(ColumnType)s:  f1(DECIMAL) f2(VARCHAR)\nrow 0: 1 3\n\t\nrow 1: 2 x\nError: boom\n1.5ms\n"
     "**************************************************\n\n-- OriginalSql\nSELECT 1;\n-- MutatedSql\nSELECT 2;\n"),
]


@pytest.mark.parametrize("text", HANDMADE)
def test_handmade_logs(text):
    summary = summarize(text)
    assert summary == _strict(text)
    assert (summary.original.row_count, summary.mutated.row_count, summary.mutated.error,
            summary.mutated.duration_ms, summary.mutated.columns) == (0, 2, "boom", 1.5,
                                                                      (("f1", "DECIMAL"), ("f2", "VARCHAR")))


@pytest.mark.parametrize("sql, field, expected", [
    ("SELECT 1", "originalSql", None),
    ("  ((SELECT `a` FROM `t`))", "originalSql", None),
    ("select 1", "originalSql", None),
    ("Select 1", "originalSql", None),
    ("WITH `x` AS (SELECT 1) SELECT * FROM `x`", "originalSql", None),
    ("SELECT 'a;b'", "originalSql", None),
    ("", "originalSql", "empty originalSql"),
    ("   ", "mutatedSql", "empty mutatedSql"),
    ("DROP TABLE `t`", "mutatedSql", "non-SELECT statement in mutatedSql: DROP TABLE `t`"),
    ("((DROP TABLE `t`))", "mutatedSql", "non-SELECT statement in mutatedSql: ((DROP TABLE `t`))"),
    ("/* hi */ DELETE FROM t", "originalSql", "non-SELECT statement in originalSql: /* hi */ DELETE FROM t"),
    ("SELECTX 1", "originalSql", "non-SELECT statement in originalSql: SELECTX 1"),
    ("SELECT 1; DROP TABLE `t`", "originalSql", "more than one statement in originalSql: SELECT 1; DROP TABLE `t`"),
    ("SELECT * FROM t WHERE ; DROP TABLE t", "originalSql",
     "more than one statement in originalSql: SELECT * FROM t WHERE ; DROP TABLE t"),
    ("SELECT 1;", "originalSql", None),
])
def test_statement_problems(sql, field, expected):
    assert statement_problem(sql, field) == expected


PIECES = ["SELECT", "select", "WITH", "DROP", "(", ")", " ", "\t", "\n", ";", "1", "`a`", "'x;y'", "/* c */", "-- c\n",
          "$", "é", "_", "SELECT$", "INSERT", "#x\n", "FROM", "t", ",", "*"]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=0, max_size=10))
def test_the_pre_filter_never_hides_a_statement_problem(pieces):
    sql = "".join(pieces)
    problem = statement_problem(sql, "originalSql")
    try:
        parse(sql)
        parser_says = None
    except SqlSyntaxError as error:
        parser_says = error.reason
    if parser_says and parser_says.startswith(("not a SELECT", "more than one statement", "empty statement")):
        assert problem is not None, sql


def _strict_bug(data):
    try:
        report = parse_bug_json(data)
        return tuple(getattr(report, name) for name in _Bug._fields)
    except FormatError as error:
        return ("error", str(error))


def _quick_bug(data):
    try:
        return tuple(_parse_bug(data))
    except FormatError as error:
        return ("error", str(error))


def test_the_quick_bug_json_path_agrees_with_parse_bug_json(faulty_source):
    root, _, _ = faulty_source
    rng = random.Random(9)
    paths = sorted(root.glob("**/task-*/*/*.json"))
    assert len(paths) > 500
    checked = 0
    for path in paths:
        data = path.read_bytes()
        variants = [data, data[: rng.randrange(max(1, len(data)))], b"", b"  \n", data.replace(b'"bugId":', b'"bugId":-', 1),
                    data.replace(b'"isUpper":true', b'"isUpper":1').replace(b'"isUpper":false', b'"isUpper":0'),
                    data[:-1] + b',"extra":1}', data.replace(b'"sqlId":', b'"sqlID":', 1), b"[1, 2]",
                    data.replace(b'"originalSql":"', b'"originalSql":"\xc3\x28', 1), data.replace(b"{", b"\xef\xbb\xbf{", 1),
                    data.replace(b'"bugId":', b'"bugId":1.0e0, "x":', 1), '{"a":"é"}'.encode("utf-16")]
        for variant in variants:
            assert _quick_bug(variant) == _strict_bug(variant), variant[:80]
            checked += 1
    assert checked > 6000


def test_one_unit_durations_match_parse_go_duration():
    rng = random.Random(3)
    texts = ["0s", "1s", "850µs", "1.5ms", "2.000000001s", "1m0.5s", "-1.5ms", "1h2m3s", "3ns", "1.2345678901s",
             "12us", "7μs", "", "ms", "1.ms", ".5s"]
    texts += [go_duration(int(rng.lognormvariate(13.8, 3))) for _ in range(5000)]
    for text in texts:
        try:
            expected = parse_go_duration(text)
        except FormatError:
            with pytest.raises(FormatError):
                _duration_ns(text)
            continue
        assert _duration_ns(text) == expected, text
