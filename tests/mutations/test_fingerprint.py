from __future__ import annotations

import duckdb

from mutations.fingerprint import fingerprint, normalised_text, pair_fingerprint, pair_hash


def test_whitespace_case_introducers_and_literal_values_are_ignored():
    a = "SELECT (`a`) AS `f1` FROM `t` WHERE (`a`)>(_UTF8MB4'x') AND `b` IN (1,2.5)"
    b = "select  (`a`) as `f1`\nfrom `t` where (`a`) > ('yy') and `b` in (7, 0.1);"
    assert normalised_text(a) == "SELECT ( `a ) AS `f1 FROM `t WHERE ( `a ) > ( ? ) AND `b IN ( ? , ? )"
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint(a.replace("`b`", "`c`"))
    assert fingerprint(a) != fingerprint(a.replace(")>(", ")>=("))
    assert pair_fingerprint("FixMCmpOpU", a, a) == pair_fingerprint("FixMCmpOpU", b, b)
    assert pair_fingerprint("FixMCmpOpU", a, a) != pair_fingerprint("FixMCmpOpL", a, a)


def test_pair_hash_matches_duckdb_sha256():
    strategy, original, mutated = "FixMWhere1U", "SELECT 'é' FROM t WHERE a>1", "SELECT 'é' FROM t WHERE 1"
    with duckdb.connect() as connection:
        expected = connection.execute(
            "SELECT sha256(? || chr(31) || ? || chr(31) || ?)", [strategy, original, mutated]
        ).fetchall()[0][0]
    assert pair_hash(strategy, original, mutated) == expected


def test_judge_gives_the_verdict_and_the_same_fingerprints_as_the_separate_functions():
    from mutations import check, judge

    original = "SELECT (`a`) AS `f1` FROM `t` WHERE (`a`)>(_UTF8MB4'x')"
    mutated = original.replace(")>(", ")>=(")
    judgement = judge(original, mutated, "FixMCmpOpU")
    assert judgement.verdict == check(original, mutated, "FixMCmpOpU")
    assert judgement.original_fingerprint == fingerprint(original)
    assert judgement.pair_fingerprint == pair_fingerprint("FixMCmpOpU", original, mutated)
    broken = judge(original, "SELECT 'unterminated", "FixMCmpOpU")
    assert (broken.verdict.conforms, broken.original_fingerprint, broken.pair_fingerprint) == (False, None, None)
