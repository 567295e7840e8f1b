"""`check_jsonl`'s per-line reading and its collector setting: the usual line is accepted with one test per
field, every other line is explained by `read_record` as before; one process judges the whole file under the
raised young-generation threshold and puts it back after."""

from __future__ import annotations

import gc
import io
import json

from mutations.batch import BATCH_GC_THRESHOLD, REQUIRED_FIELDS, check_jsonl, judge_line, read_record
from mutations.checker import check, judge
from mutations.engine import analyse

ORIGINAL = "SELECT `a` FROM `t` WHERE `a`>1"
MUTATED = "SELECT `a` FROM `t` WHERE `a`>=1"


def test_a_usual_line_keeps_its_fields_in_order_and_gains_the_verdict():
    raw = json.dumps({"id": 7, "strategy": "FixMCmpOpU", "original": ORIGINAL, "reason": "old",
                      "mutated": MUTATED}).encode()
    assert judge_line(3, raw) == (
        3,
        '{"id": 7, "strategy": "FixMCmpOpU", "original": "SELECT `a` FROM `t` WHERE `a`>1", "reason": '
        '"conforms", "mutated": "SELECT `a` FROM `t` WHERE `a`>=1", "conforms": true, "is_upper": true}',
        None, "FixMCmpOpU", True)


def test_every_other_line_gets_read_records_explanation():
    lines = {
        b"\xff{}": "invalid UTF-8 at byte 0",
        b"{nope": "not valid JSON: Expecting property name enclosed in double quotes (column 2)",
        b"[1, 2]": "expected a JSON object, got list",
        b'"text"': "expected a JSON object, got str",
        b'{"strategy": "FixMCmpOpU", "original": "SELECT 1"}': "missing field(s): mutated",
        b'{"strategy": "FixMCmpOpU", "original": "SELECT 1", "mutated": null}': "field(s) must be strings: mutated",
        b'{"strategy": 5, "original": ["SELECT 1"], "mutated": "SELECT 2"}':
            "field(s) must be strings: strategy, original",
    }
    for raw, message in lines.items():
        assert read_record(raw, REQUIRED_FIELDS) == (None, message)
        assert judge_line(9, raw) == (9, None, message, None, False), raw


def test_one_process_judges_the_whole_file_under_the_raised_threshold():
    before = gc.get_threshold()
    seen: list[tuple[int, ...]] = []

    class Sink(io.StringIO):
        def write(self, text: str) -> int:
            seen.append(gc.get_threshold())
            return super().write(text)

    lines = [json.dumps({"strategy": "FixMCmpOpU", "original": ORIGINAL, "mutated": MUTATED})] * 300
    sink = Sink()
    summary = check_jsonl(io.BytesIO("\n".join(lines).encode()), sink, jobs=1, quiet=True)
    assert summary.checked == {"FixMCmpOpU": 300} and summary.conforming == {"FixMCmpOpU": 300}
    # Lines past the first chunk (256) are written too while the threshold stays raised.
    assert seen == [(BATCH_GC_THRESHOLD, *before[1:])] * 300
    assert gc.get_threshold() == before


def test_judging_unreadable_texts_leaves_no_cycles_and_the_same_reasons():
    # A syntax error kept for the verdict would otherwise tie the failed parse's frames into a cycle (through
    # its traceback and the tokenizer's internal exception it was raised while handling).
    pairs = {
        ("SELECT 'x", "SELECT 1"): ("original_unreadable", "original SQL is not a readable SELECT: unterminated "
                                    "string literal at line 1, column 8 (char 7): …SELECT 'x…"),
        ("SELECT 1 \x01", "SELECT 1"): ("original_unreadable", "original SQL is not a readable SELECT: unexpected "
                                        "character '\\x01' at line 1, column 10 (char 9): …SELECT 1 \x01…"),
        (ORIGINAL, "SELECT `a` FROM `t` WHERE `a`>'1"): (
            "mutated_unreadable", "mutated SQL does not tokenize: unterminated string literal at line 1, column 31 "
            "(char 30): … FROM `t` WHERE `a`>'1…"),
        (ORIGINAL, "DROP TABLE `t`"): (
            "mutated_not_select", "mutated SQL is not a single SELECT: not a SELECT statement: expected SELECT, "
            "WITH or '(' near 'DROP' at line 1, column 1 (char 0): …DROP TABLE `t`…"),
        ("SELECT `a` FROM `t` WHERE (`a`>1", "SELECT 1"): (
            "original_unreadable", "original SQL is not a readable SELECT: '(' is never closed near '(' at line 1, "
            "column 27 (char 26): … `a` FROM `t` WHERE (`a`>1…"),
    }
    gc.collect()
    gc.disable()
    try:
        for (original, mutated), (kind, reason) in pairs.items():
            verdict = check(original, mutated, "FixMCmpOpU")
            assert (verdict.kind, verdict.reason) == (kind, reason)
            assert judge(original, mutated, "FixMCmpOpU").verdict == verdict
        analyse.cache_clear()
        assert gc.collect() == 0
    finally:
        gc.enable()
