"""`identify`: which of the 18 strategies relate two queries, in which direction; and `check`'s reason for a
pair written backwards. Hand-written pairs in the style of published bug reports (lower case, no backquotes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mutations import STRATEGIES, Identification, check, identify

ROOT = Path(__file__).resolve().parents[2]


def ident(strategy: str, is_upper: bool, reversed_: bool) -> Identification:
    return Identification(strategy, is_upper, reversed_)


HAVING = "select a, count(*) as c from t group by a having "
# strategy -> (original, mutated, identify(original, mutated), identify(mutated, original))
PAIRS: dict[str, tuple[str, str, list[Identification], list[Identification]]] = {
    "FixMDistinctU": (
        "select distinct a from t", "select a from t",
        [ident("FixMDistinctU", True, False), ident("FixMDistinctL", False, True)],
        [ident("FixMDistinctL", False, False), ident("FixMDistinctU", True, True)]),
    "FixMDistinctL": (
        "select a from t where a > 1", "select distinct a from t where a > 1",
        [ident("FixMDistinctL", False, False), ident("FixMDistinctU", True, True)],
        [ident("FixMDistinctU", True, False), ident("FixMDistinctL", False, True)]),
    "FixMUnionAllU": (
        "select a from t union select a from u", "select a from t union all select a from u",
        [ident("FixMUnionAllU", True, False), ident("FixMUnionAllL", False, True)],
        [ident("FixMUnionAllL", False, False), ident("FixMUnionAllU", True, True)]),
    "FixMUnionAllL": (
        "select a from t union all select b from u", "select a from t union select b from u",
        [ident("FixMUnionAllL", False, False), ident("FixMUnionAllU", True, True)],
        [ident("FixMUnionAllU", True, False), ident("FixMUnionAllL", False, True)]),
    "FixMCmpOpU": (
        "select a from t where a = 1", "select a from t where a >= 1",
        [ident("FixMCmpOpU", True, False)], [ident("FixMCmpOpU", True, True)]),
    "FixMCmpOpL": (
        "select a from t where a <> 1", "select a from t where a < 1",
        [ident("FixMCmpOpL", False, False)], [ident("FixMCmpOpL", False, True)]),
    "FixMInNullU": (
        "select a from t where a in (1, 2)", "select a from t where a in (1, 2,NULL)",
        [ident("FixMInNullU", True, False)], [ident("FixMInNullU", True, True)]),
    "FixMWhere1U": (
        "select a from t where a > 1", "select a from t where 1",
        [ident("FixMWhere1U", True, False)], [ident("FixMWhere1U", True, True)]),
    "FixMWhere0L": (
        "select a from t where a > 1", "select a from t where 0",
        [ident("FixMWhere0L", False, False)], [ident("FixMWhere0L", False, True)]),
    "FixMHaving1U": (
        HAVING + "c > 1", HAVING + "1",
        [ident("FixMHaving1U", True, False)], [ident("FixMHaving1U", True, True)]),
    "FixMHaving0L": (
        HAVING + "c > 1", HAVING + "0",
        [ident("FixMHaving0L", False, False)], [ident("FixMHaving0L", False, True)]),
    "FixMOn1U": (
        "select t.a from t join u on t.a = u.a", "select t.a from t join u on 1",
        [ident("FixMOn1U", True, False)], [ident("FixMOn1U", True, True)]),
    "FixMOn0L": (
        "select t.a from t join u on t.a = u.a", "select t.a from t join u on 0",
        [ident("FixMOn0L", False, False)], [ident("FixMOn0L", False, True)]),
    "FixMRmUnionAllL": (
        "select a from t union all select a from u", "select a from t",
        [ident("FixMRmUnionAllL", False, False)], [ident("FixMRmUnionAllL", False, True)]),
    "RdMLikeU": (
        "select a from t where 'abc' like 'a%'", "select a from t where 'abc' like '%%'",
        [ident("RdMLikeU", True, False)], [ident("RdMLikeU", True, True)]),
    # `_` -> `%` is what RdMLikeU does, so a RdMLikeL pair read backwards is a RdMLikeU one.
    "RdMLikeL": (
        "select a from t where 'abc' like 'a%'", "select a from t where 'abc' like 'a_'",
        [ident("RdMLikeL", False, False), ident("RdMLikeU", True, True)],
        [ident("RdMLikeU", True, False), ident("RdMLikeL", False, True)]),
    "RdMRegExpU": (
        "select a from t where 'abc' regexp '^a+$'", "select a from t where 'abc' regexp 'a*'",
        [ident("RdMRegExpU", True, False)], [ident("RdMRegExpU", True, True)]),
    "RdMRegExpL": (
        "select a from t where 'abc' regexp 'a*'", "select a from t where 'abc' regexp 'a?'",
        [ident("RdMRegExpL", False, False), ident("RdMRegExpU", True, True)],
        [ident("RdMRegExpU", True, False), ident("RdMRegExpL", False, True)]),
}


def test_the_pairs_cover_all_18_strategies():
    assert list(PAIRS) == list(STRATEGIES)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_identify_names_the_strategy_in_both_directions(strategy):
    original, mutated, forward, backward = PAIRS[strategy]
    assert check(original, mutated, strategy).conforms  # the pair is what its name says
    assert identify(original, mutated) == forward
    assert identify(mutated, original) == backward


def test_is_upper_follows_the_polarity_of_the_mutation_point():
    # Under NOT, `=` -> `>=` shrinks the result: FixMCmpOpU there is a lower mutation.
    assert identify("select a from t where not (a = 1)", "select a from t where not (a >= 1)") == [
        ident("FixMCmpOpU", False, False)]
    # `>` -> `>=` is FixMCmpOpU; back, `>=` -> `>` is FixMCmpOpL.
    assert identify("select a from t where a > 1", "select a from t where a >= 1") == [
        ident("FixMCmpOpU", True, False), ident("FixMCmpOpL", False, True)]


@pytest.mark.parametrize(
    ("original", "mutated"),
    [
        ("select a from t where a > 1", "select a from t where a > 1"),  # identical
        ("select a from t where a > 1", "SELECT a  FROM t WHERE a > 1 -- same tokens"),  # identical tokens
        ("select a from t where 'a' like 'a%'", "select a from t where 'a' like 'a%'"),  # RdM* drew nothing
        ("select a from t where a > 1", "select a from u where a > 1"),  # another table
        ("select a from t where a > 1", "select a from t where a >= 2"),  # two edits
        ("select a from t where a = 1", "select a from t where a <= 1"),  # no strategy writes <=
        ("select a from t where a > 1", "select a from t where a > 1 and 1"),  # AND 1 is no mutation
        ("select a from t where a > 1", "delete from t"),  # not a SELECT
        ("select a from t where 'x", "select a from t where a > 1"),  # does not tokenize
    ],
)
def test_a_pair_no_strategy_explains_gets_nothing(original, mutated):
    assert identify(original, mutated) == []
    assert identify(mutated, original) == []


def test_check_says_when_a_pair_is_written_backwards():
    verdict = check("select a from t where a >= 1", "select a from t where a > 1", "FixMCmpOpU")
    assert (verdict.conforms, verdict.is_upper, verdict.kind) == (False, None, "reversed")
    assert verdict.reason == ("this is the reverse of a FixMCmpOpU mutation: FixMCmpOpU turns the mutated query "
                              "into the original, so the two are swapped")
    # Before, this pair read as a FixMDistinctU mutation with no mutation point for FixMDistinctL.
    assert check("select distinct a from t", "select a from t", "FixMDistinctL").reason == (
        "this is the reverse of a FixMDistinctL mutation: FixMDistinctL turns the mutated query into the "
        "original, so the two are swapped")


def test_check_keeps_its_reasons_for_pairs_that_are_not_backwards():
    # Forward it is a FixMCmpOpL mutation, and backwards no FixMCmpOpU one: the old reason stands.
    assert check("select a from t where a >= 1", "select a from t where a > 1", "FixMWhere1U").reason == (
        "this is a FixMCmpOpL mutation, not FixMWhere1U: FixMWhere1U replaces the whole WHERE condition with 1")
    assert check("select a from t where a = 1", "select a from t where a <= 1", "FixMCmpOpU").reason == (
        "`=` became `<=` at char 24, which FixMCmpOpU never does: it turns `=` into `>=`, `<` into `<=` and "
        "`>` into `>=`")


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mutations", *args], cwd=ROOT, input=stdin, capture_output=True,
                          text=True, timeout=60)


def test_identify_cli_adds_identified_passes_keys_through_and_reports_bad_lines(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    lines = [
        json.dumps({"id": 1, "url": "https://bugs.mysql.com/1", "original": "select a from t where a = 1",
                    "mutated": "select a from t where a >= 1"}),
        "{broken",
        "",
        json.dumps({"id": 3, "original": "select a from t where a < 1", "mutated": "select a from t where a <> 1"}),
        json.dumps({"id": 4, "original": "select a from t"}),
        json.dumps({"id": 5, "original": "select a from t", "mutated": "select b from t"}),
        json.dumps({"id": 6, "original": "select a from t", "mutated": 7}),
    ]
    pairs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    output = tmp_path / "identified.jsonl"
    result = run_cli("--quiet", "identify", "--input", str(pairs), "--output", str(output))
    assert result.returncode == 1
    assert output.read_text(encoding="utf-8").splitlines() == [
        '{"id": 1, "url": "https://bugs.mysql.com/1", "original": "select a from t where a = 1", '
        '"mutated": "select a from t where a >= 1", '
        '"identified": [{"strategy": "FixMCmpOpU", "is_upper": true, "reversed": false}]}',
        '{"id": 3, "original": "select a from t where a < 1", "mutated": "select a from t where a <> 1", '
        '"identified": [{"strategy": "FixMCmpOpL", "is_upper": false, "reversed": true}]}',
        '{"id": 5, "original": "select a from t", "mutated": "select b from t", "identified": []}',
    ]
    assert result.stderr.splitlines() == [
        f"{pairs}:2: not valid JSON: Expecting property name enclosed in double quotes (column 2)",
        f"{pairs}:5: missing field(s): mutated",
        f"{pairs}:7: field(s) must be strings: mutated",
        "identify: 3 pair(s): 2 explained by a strategy (1 only when read backwards), 1 by none",
        f"3 malformed line(s) in {pairs} skipped",
    ]


def test_identify_cli_reads_stdin_writes_stdout_and_exits_zero():
    line = json.dumps({"original": "select a from t union all select a from u", "mutated": "select a from t"})
    result = run_cli("--quiet", "identify", "--input", "-", stdin=line + "\n")
    assert result.returncode == 0
    assert json.loads(result.stdout) == {**json.loads(line), "identified": [
        {"strategy": "FixMRmUnionAllL", "is_upper": False, "reversed": False}]}
    assert result.stderr == "identify: 1 pair(s): 1 explained by a strategy (0 only when read backwards), 0 by none\n"
