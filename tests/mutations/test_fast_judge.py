"""The judge's fast paths give exactly what the full paths give: one-pass `tokenize` against the step-by-step
reference, `keys_after_edit` against a full tokenization, and `check`/`judge` against `_verdict` on the full
token streams, over generated PINOLO-shaped pairs and hostile edits."""

from __future__ import annotations

import json
import random

import pytest

from mutations import STRATEGIES, apply_candidate, candidates, check, judge
from mutations.batch import _ENCODE, _encode_record
from mutations.checker import _verdict
from mutations.engine import Candidate, _new_candidate, analyse
from mutations.errors import SqlSyntaxError
from mutations.fingerprint import fingerprint, pair_fingerprint
from mutations.tokens import first_long_look, keys_after_edit, tokenize, tokenize_by_steps
from simulator.querygen import QueryGenerator

SQL = "SELECT `a` FROM `t` WHERE `a`>1"
HOSTILE = ["'", '"', "`", "/*", "*/", "--", "-- ", "#", "\n", "0x", "0b1", "\x01", " ", "@", "''", "``", "1e+",
           "\\", "é", "\U0001f600", ";", "(", ")", "<=>", "_UTF8MB4'a'"]


def _tokens_or_error(function, sql):  # type: ignore[no-untyped-def]
    try:
        tokens = function(sql)
    except SqlSyntaxError as error:
        return ("error", str(error), error.offset)
    return (tokens.keys, tokens.starts, tokens.ends)


def _keys_or_error(sql_before: str, sql_after: str) -> object:
    base = tokenize(sql_before)  # the base is always a text that tokenizes (an analysed original)
    try:
        return keys_after_edit(base, sql_after)[0]
    except SqlSyntaxError:
        return "error"


def _full_keys_or_error(sql: str) -> object:
    try:
        return tokenize(sql).keys
    except SqlSyntaxError:
        return "error"


def _edits(seed: int, count: int) -> list[tuple[str, str]]:
    """(original, edited) pairs: generated queries with a hostile string inserted or a span replaced."""
    rng = random.Random(seed)
    generator = QueryGenerator(seed, all_strategies=True)
    pairs = []
    for _ in range(count):
        sql = generator.query()
        for _ in range(4):
            start = rng.randrange(len(sql) + 1)
            end = min(len(sql), start + rng.choice((0, 0, 1, 3, 12)))
            pairs.append((sql, sql[:start] + rng.choice(HOSTILE) + sql[end:]))
    return pairs


def test_tokenize_in_one_pass_equals_the_step_by_step_scan():
    texts = ["", "   ", "SELECT 1 \n", "a  -- c", "/* x", "/* x */ 1", "'abc", "`a``b", "0x1g", "0xABCDEFG 1", "1e+",
             "1e+5", "--x", "#c\n1", "a\x01", "@'x'", "@@a.b", "'it''s'", '"a""b"', "a<=>b", "x->>'$.a'", "ß",
             "\U0001f600", ".5.a", "'a\\'b'"]
    texts += [edited for _, edited in _edits(11, 40)]
    for text in texts:
        assert _tokens_or_error(tokenize, text) == _tokens_or_error(tokenize_by_steps, text), text
    assert tokenize("SELECT `a`<>'x''y' -- c\n").keys == ["SELECT", "`a", "!=", "'x'y"]
    assert tokenize("SELECT `a`<>'x''y' -- c\n").starts == [0, 7, 10, 12]
    assert tokenize("SELECT `a`<>'x''y' -- c\n").ends == [6, 10, 12, 18]


def test_first_long_look_finds_the_first_place_a_match_may_look_far_ahead():
    assert first_long_look(SQL) == len(SQL)
    assert first_long_look("SELECT 'a''b' /* c */") == 9
    assert first_long_look("SELECT 0x1F, `a``b`") == 7
    assert first_long_look("") == 0


def test_keys_after_edit_rescans_only_the_edit():
    keys, head, tail = keys_after_edit(tokenize(SQL), SQL.replace(">1", ">=1"))
    assert keys == ["SELECT", "`a", "FROM", "`t", "WHERE", "`a", ">=", "1"]
    assert (head, tail) == (5, 1)  # `a, >= rescanned; 1 is the original's
    keys, head, tail = keys_after_edit(tokenize(SQL), "SELECT DISTINCT `a` FROM `t` WHERE `a`>1")
    assert keys == ["SELECT", "DISTINCT", "`a", "FROM", "`t", "WHERE", "`a", ">", "1"]
    assert (head, tail) == (0, 6)  # `a` is rescanned: the scan syncs at the first token end after the edit
    assert keys_after_edit(tokenize(SQL), SQL) == (tokenize(SQL).keys, 5, 0)  # nothing changed: the end syncs
    with pytest.raises(SqlSyntaxError, match="unterminated string literal"):
        keys_after_edit(tokenize(SQL), SQL + " 'x")


def test_keys_after_edit_equals_a_full_tokenization_after_hostile_edits():
    pairs = _edits(5, 150)
    both_ways = 0
    for before, after in pairs:
        assert _keys_or_error(before, after) == _full_keys_or_error(after), (before, after)
        if _full_keys_or_error(after) != "error":
            both_ways += 1
            assert _keys_or_error(after, before) == _full_keys_or_error(before), (after, before)
    assert both_ways > 300


def _full_verdict(original: str, mutated: str, strategy: str):  # type: ignore[no-untyped-def]
    try:
        analysis = analyse(original)
    except SqlSyntaxError as error:
        analysis = error
    try:
        mutated_tokens = tokenize(mutated)
    except SqlSyntaxError as error:
        mutated_tokens = error
    return _verdict(analysis, mutated_tokens, strategy)


def test_check_and_judge_give_the_full_paths_verdicts():
    rng = random.Random(3)
    generator = QueryGenerator(3, all_strategies=True)
    pairs = []
    for _ in range(25):
        sql = generator.query()
        for candidate in candidates(sql):
            mutated = apply_candidate(sql, candidate, rng.randrange(50)).sql
            pairs.append((sql, mutated, candidate.strategy))
            pairs.append((sql, mutated, rng.choice(STRATEGIES)))
            pairs.append((mutated, sql, candidate.strategy))
            start = rng.randrange(len(mutated) + 1)
            pairs.append((sql, mutated[:start] + rng.choice(HOSTILE) + mutated[start:], candidate.strategy))
    conforming = 0
    for original, mutated, strategy in pairs:
        verdict = check(original, mutated, strategy)
        assert verdict == _full_verdict(original, mutated, strategy)
        judgement = judge(original, mutated, strategy)
        assert judgement.verdict == verdict
        if verdict.conforms:
            conforming += 1
            assert judgement.original_fingerprint == fingerprint(original)
            assert judgement.pair_fingerprint == pair_fingerprint(strategy, original, mutated)
    assert 0 < conforming < len(pairs)


def test_analysis_keeps_candidates_by_strategy_in_discovery_order():
    sql = "SELECT `a` FROM `t` WHERE `a`>1 AND `b`=2 HAVING `a`<3"
    analysis = analyse(sql)
    assert [c.strategy for c in analysis.by_strategy["FixMCmpOpU"]] == ["FixMCmpOpU", "FixMCmpOpU", "FixMCmpOpU"]
    assert [c.start for c in analysis.by_strategy["FixMCmpOpU"]] == [29, 39, 52]
    assert analysis.by_strategy["FixMCmpOpU"] == tuple(c for c in analysis.candidates if c.strategy == "FixMCmpOpU")
    assert sorted(analysis.by_strategy) == sorted({c.strategy for c in analysis.candidates})
    assert analysis.long_look == len(sql)


def test_check_jsonl_encoder_writes_what_json_dumps_writes():
    record = {"strategy": "FixMCmpOpU", "original": "SELECT 'é'", "id": [1, 2.5, None], "conforms": True}
    assert _ENCODE(record) == json.dumps(record, ensure_ascii=False)


def test_tokenize_reads_keys_and_positions_from_one_findall():
    # Trailing whitespace and comments give one or two empty end matches; neither is a token.
    for text in ("SELECT 1", "SELECT 1 ", "SELECT 1 -- c", "SELECT 1 /* c */\n", "1;", " "):
        assert _tokens_or_error(tokenize, text) == _tokens_or_error(tokenize_by_steps, text), text
    tokens = tokenize("select `a``b`, \"x\"\"y\" /* c */ FROM t WHERE .5<>0x1F")
    assert tokens.keys == ["SELECT", "`a`b", ",", "'x\"y", "FROM", "T", "WHERE", ".5", "!=", "0x1F"]
    assert tokens.starts == [0, 7, 13, 15, 30, 35, 37, 43, 45, 47]
    assert tokens.ends == [6, 13, 14, 21, 34, 36, 42, 45, 47, 51]
    # The same texts again come from the key cache, with the same keys.
    assert tokenize("select `a``b`").keys == ["SELECT", "`a`b"]


def test_tokenize_reports_the_first_bad_character_as_the_scan_does():
    for text, reason, offset in (("SELECT 'abc", "unterminated string literal", 7),
                                 ("SELECT `a", "unterminated backquoted identifier", 7),
                                 ("SELECT 1 \x01 'x", "unexpected character '\\x01'", 9),
                                 ("SELECT @ 1", "unexpected character '@'", 7)):
        with pytest.raises(SqlSyntaxError) as caught:
            tokenize(text)
        assert caught.value.reason == reason
        assert caught.value.offset == offset
        assert _tokens_or_error(tokenize, text) == _tokens_or_error(tokenize_by_steps, text)


def test_check_jsonl_record_encoder_writes_what_json_dumps_writes():
    record = {"strategy": "FixMCmpOpU", "original": "SELECT 'é\"\\\n\x01'", "mutated": "SELECT \U0001f600",
              "extra": [1, 2.5, None, True, {"b": float("nan")}], "conforms": False, "is_upper": None,
              "reason": "why"}
    assert _encode_record(record) == json.dumps(record, ensure_ascii=False)
    assert _encode_record({"a": 1}) == '{"a": 1}'


def test_new_candidate_builds_what_the_dataclass_builds():
    fields = ("FixMInNullU", False, 0, "IN", 30, 30, 9, 9, ",NULL", None)
    built, made = _new_candidate(*fields), Candidate(*fields)
    assert built == made
    assert hash(built) == hash(made)
    assert repr(built) == repr(made) == (
        "Candidate(strategy='FixMInNullU', is_upper=False, flag=0, node='IN', start=30, end=30, tok_start=9, "
        "tok_end=9, replacement=',NULL', pattern=None)")
    with pytest.raises(AttributeError):
        built.start = 1  # type: ignore[misc]


def test_side_effect_check_reads_the_keys_when_the_text_may_hold_them():
    from mutations.parser import parse

    # INTO and := inside literals and identifiers are no keys: the text pre-check lets the keys decide.
    parser, _ = parse("SELECT 'INTO', `into`, ':=' FROM t")
    assert parser.tokens.keys[:6] == ["SELECT", "'INTO", ",", "`into", ",", "':="]
    # A dotless i upper-cases to I, so `ınto` is the key INTO, and the upper-cased text holds it too.
    with pytest.raises(SqlSyntaxError) as caught:
        parse("select a \u0131nto @x from t")
    assert caught.value.reason.startswith("SELECT … INTO is refused")
    assert caught.value.offset == 9
