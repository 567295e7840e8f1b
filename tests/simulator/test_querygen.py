"""Queries in impo.yy's shape, rendered as TiDB's stage 1 renders them (reference §5, §8)."""

from __future__ import annotations

import random
import re
import statistics
from collections import Counter

import pytest

from mutations import STRATEGIES, candidates
from mutations.formats import COLUMNS, KEY_COLUMNS, TABLES
from simulator.querygen import FUNCTIONS, INTERVAL_UNITS, REGEXP_PATTERNS, QueryGenerator

LITERAL = re.compile(r"(_UTF8MB4)?'(?:[^']|'')*'")
IDENT = re.compile(r"`[^`]*`")
NUMBER = re.compile(r"\b\d+(?:\.\d+)?(?:e[-+]?\d+)?\b")


@pytest.fixture(scope="module")
def plain() -> list[str]:
    gen = QueryGenerator(20261124)
    return [gen.query() for _ in range(600)]


@pytest.fixture(scope="module")
def extended() -> list[str]:
    gen = QueryGenerator(7, all_strategies=True)
    return [gen.query() for _ in range(600)]


def _depth0(sql: str) -> str:
    """The text outside literals, identifiers and parentheses."""
    text = IDENT.sub("``", LITERAL.sub("''", sql))
    out, depth = [], 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def test_same_seed_same_queries_and_global_rng_untouched():
    random.seed(99)
    expected_next = random.random()
    random.seed(99)
    first = [QueryGenerator(5).query() for _ in range(3)]
    a = QueryGenerator(5)
    b = QueryGenerator(5)
    assert [a.query() for _ in range(30)] == [b.query() for _ in range(30)]
    assert QueryGenerator(6).query() != first[0]
    assert random.random() == expected_next


def test_rendering_conventions(plain):
    for sql in plain:
        assert not sql.endswith(";")
        # every string literal carries the _UTF8MB4 introducer
        for m in LITERAL.finditer(sql):
            assert m.group(1) == "_UTF8MB4", (m.group(), sql)
        # outside literals and backquoted names everything is uppercase: keywords, functions
        bare = NUMBER.sub("0", IDENT.sub("``", LITERAL.sub("''", sql)))
        assert not re.search(r"[a-z]", bare), (bare, sql)
        # fields are `(expr) AS `fN`` joined by ',' without a space; IN lists have no spaces either
        assert ", (" not in sql.replace("_UTF8MB4", "")
        assert sql.startswith(("SELECT (", "(SELECT (", "WITH `MYWITH` AS ("))
        # only the tables and columns of output.data.sql
        for name in IDENT.findall(sql):
            bare_name = name.strip("`")
            assert re.fullmatch(r"[tf]\d+|MYWITH", bare_name) or bare_name in COLUMNS or bare_name in TABLES, name


def test_alias_numbering_per_query(plain):
    for sql in plain:
        for letter in "tf":
            numbers = sorted({int(n) for n in re.findall(rf"AS `{letter}(\d+)`", sql)})
            assert numbers == list(range(1, len(numbers) + 1)), sql
        assert " AS `f1`" in sql and " AS `t1`" in sql


def test_grammar_shapes_all_appear(plain):
    text = "\n".join(plain)
    required = [
        ") UNION ALL (SELECT", ") UNION (SELECT", "WITH `MYWITH` AS (", ") SELECT * FROM `MYWITH`", " ORDER BY `f",
        " JOIN (SELECT", " STRAIGHT_JOIN (", " NATURAL JOIN (", ") AS `t2` ON ", " WHERE ", " HAVING ",
        " USE INDEX (`", " IGNORE INDEX (`", " FORCE INDEX (`", "`, `col_", ") IS TRUE", ") IS FALSE", "NOT (",
        "=ANY (SELECT", "ALL (SELECT", "EXISTS (SELECT", ") IN (SELECT", ") NOT IN (SELECT", "ROW(", ") IN (",
        ") NOT IN (", " BETWEEN ", " NOT BETWEEN ", "CAST((", " AS CHAR) LIKE _UTF8MB4'%0%'",
        " AS CHAR) NOT LIKE _UTF8MB4'%1%'", " AS CHAR) REGEXP _UTF8MB4'", " AS CHAR) NOT REGEXP _UTF8MB4'",
        " DIV ", " AND ", " OR ", "BINARY ", "!", "~", "<<", ">>", "^", "|", "&", "NULL", "DATE_ADD(",
        "DATE_SUB(", ", INTERVAL 1 ", "INTERVAL 1 HOUR_MINUTE", "_UTF8MB4'can''t'",
    ]
    missing = [r for r in required if r not in text]
    assert not missing
    assert re.search(r"`f\d+`%", text) or re.search(r"\)%", text)  # MOD renders as %
    assert re.search(r"\(`f\d+`\)(=|>=|>|<=|<|!=)\(", text)  # comparisons without spaces
    assert re.search(r"ROW\([^()]*,[^()]*\) (NOT )?IN \(SELECT `col_[^`]*`,`col_", text)
    for pattern in REGEXP_PATTERNS:
        assert f"REGEXP _UTF8MB4'{pattern}'" in text, pattern
    assert {u for u in INTERVAL_UNITS if f"INTERVAL 1 {u})" in text} == set(INTERVAL_UNITS)
    assert {k for k in KEY_COLUMNS if f"INDEX (`{k}`" in text or f", `{k}`)" in text} == set(KEY_COLUMNS)
    assert all(f"`{c}`" in text for c in COLUMNS) and all(f"`{t}`" in text for t in TABLES)
    # impo.yy never emits these: the 8 mutators they feed must stay silent on default queries
    assert "DISTINCT" not in text
    assert not re.search(r"_UTF8MB4'[^']*' (NOT )?(LIKE|REGEXP)", text)
    assert all(" UNION" not in _depth0(sql) for sql in plain if not sql.startswith("(")) is True


def test_function_families(plain):
    text = "\n".join(plain)
    used = {name for name in FUNCTIONS if f"{name}(" in text}
    assert len(FUNCTIONS) >= 30 and len(used) >= 60
    families = Counter(FUNCTIONS[name][0] for name in used)
    assert set(families) == {"math", "time", "string", "info"}
    for name in ("ATAN2", "COERCIBILITY", "FORMAT_BYTES", "TO_SECONDS", "TO_BASE64", "PI", "CONCAT_WS", "RIGHT"):
        assert f"{name}(" in text, name
    assert FUNCTIONS["ATAN2"][1] == 1
    assert re.search(r"ATAN2\((`f\d+`|-?\d+(\.\d+)?|NULL|_UTF8MB4'[^']*')\)", text)  # one argument
    assert re.search(r"[A-Z_0-9]+\([^()]+, [^()]+\)", text)  # arguments separated by ', '
    assert "PI()" in text


def test_length_distribution(plain):
    lengths = sorted(len(sql) for sql in plain)
    assert 600 <= statistics.median(lengths) <= 2000
    inside = sum(1 for n in lengths if 500 <= n <= 2200) / len(lengths)
    assert inside >= 0.6
    assert lengths[-1] < 6000


def test_engine_reads_every_query_and_finds_only_impo_strategies(plain):
    seen = Counter()
    for sql in plain:
        seen.update({c.strategy for c in candidates(sql)})
    assert set(seen) == {"FixMDistinctL", "FixMCmpOpU", "FixMCmpOpL", "FixMInNullU", "FixMWhere1U", "FixMWhere0L",
                         "FixMHaving1U", "FixMHaving0L", "FixMOn1U", "FixMOn0L"}


def test_all_strategies_shapes(extended):
    text = "\n".join(extended)
    assert "SELECT DISTINCT " in text
    bare_unions = [sql for sql in extended if not sql.startswith(("(", "WITH")) and " UNION" in _depth0(sql)]
    assert bare_unions
    assert any(" UNION ALL SELECT " in _depth0(sql) or "UNION ALL SELECT" in sql for sql in bare_unions)
    assert any(re.search(r"\) UNION SELECT |` UNION SELECT ", sql) for sql in bare_unions)
    assert all(_depth0(sql).count(" UNION") == 1 for sql in bare_unions)  # exactly two elements
    assert re.search(r"_UTF8MB4'[^']*' LIKE _UTF8MB4'[^']*%[^']*'", text)
    assert re.search(r"_UTF8MB4'[^']*' NOT LIKE _UTF8MB4'", text)
    regexps = re.findall(r"_UTF8MB4'[^']*' (?:NOT )?REGEXP _UTF8MB4'([^']*)'", text)
    for symbol in "*+?^$":
        assert any(symbol in p for p in regexps), symbol


def test_all_strategies_make_all_18_fire(extended):
    seen = Counter()
    for sql in extended:
        seen.update({c.strategy for c in candidates(sql)})
    assert set(seen) == set(STRATEGIES)


# Shapes that fail at run time with error 1690 (value out of range) over the §9 data. PINOLO never reports them,
# because it skips SQL that does not execute (§6); the generator rejects them while drawing.
_BASE_ALIAS = re.compile(r"`(col_[^`]+)` AS `(f\d+)`")
_EXP_OF_LITERAL = re.compile(r"\bEXP\((?:_UTF8MB4'(\d+)|(\d+)\))")  # a date string reads as its year
_COT_OF_ZERO = re.compile(r"\bCOT\((?:0\)|_UTF8MB4'(?:[a-zA-Z]|00:))")  # letters and '00:…' read as 0
_EXP_COT_OF_ALIAS = re.compile(r"\b(EXP|COT)\(`(f\d+)`\)")
_PRODUCT_OF_BIG_LITERALS = re.compile(r"(?<=\()-?\d{10,}\*-?\d{10,}(?![\d^])")
_UNSIGNED_TIMES_NEGATIVE = re.compile(r"(?<=[(|&<>+\-])~(?:`f\d+`|\d+|[A-Z_0-9]+\([^()]*\))\*-[1-9]")
_ALIAS_MINUS_DIGIT = re.compile(r"\(`(f\d+)`-[1-9]\)")


def test_no_out_of_range_shapes():
    queries = [gen.query() for seed in range(20) for gen in (QueryGenerator(seed), QueryGenerator(seed, True))
               for _ in range(100)]
    for sql in queries:
        base = {alias: column for column, alias in _BASE_ALIAS.findall(sql)}
        # EXP overflows above 709: dates, years, big integers and the numeric columns (up to 32767) are out
        assert all(int(a or b) <= 709 for a, b in _EXP_OF_LITERAL.findall(sql)), sql
        # COT(0) is out of range: every column holds a 0 (or a string reading as 0)
        assert not _COT_OF_ZERO.search(sql), sql
        for name, alias in _EXP_COT_OF_ALIAS.findall(sql):
            column = base.get(alias, "")
            assert not column or (name == "EXP" and "char" in column), (name, column, sql)
        # BIGINT overflow: the product of two 63-bit literals
        assert not _PRODUCT_OF_BIG_LITERALS.search(sql), sql
        # BIGINT UNSIGNED below 0: `~x` times a negative number, an unsigned BIGINT column minus a positive digit
        assert not _UNSIGNED_TIMES_NEGATIVE.search(sql), sql
        for alias in _ALIAS_MINUS_DIGIT.findall(sql):
            assert not re.fullmatch(r"col_bigint_(undef|key)_unsigned", base.get(alias, "")), sql
    text = "\n".join(queries)
    # the functions and operators themselves stay
    for shape in ("EXP(", "COT(", "~", " DIV ", "*-"):
        assert shape in text, shape
