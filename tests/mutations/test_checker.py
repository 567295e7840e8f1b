"""The judge: conforming pairs, and reasons a person can act on for everything else."""

from __future__ import annotations

import pytest

from mutations import STRATEGIES, apply, check
from mutations.checker import strategies_matching
from mutations.sqlsim import simplify

T3 = "`table_3_utf8_undef`"
BASE = (
    "SELECT (`a`) AS `f1`,(`b`) AS `f2`,(`c`) AS `f3` FROM (SELECT `col_bigint_key_signed` AS `a`,"
    f"`col_float_undef_signed` AS `b`,`col_char(20)_key_signed` AS `c` FROM {T3} USE INDEX (`col_bigint_key_signed`)) "
    "AS `t1` WHERE (`a`)>(_UTF8MB4'2008-05-25') AND (`b`) IN (1,2) HAVING NOT ((`f1`)<=(`f2`)) ORDER BY `f3`"
)


def test_each_engine_mutation_conforms_with_its_is_upper():
    for strategy in ("FixMCmpOpU", "FixMCmpOpL", "FixMInNullU", "FixMWhere1U", "FixMWhere0L",
                     "FixMHaving1U", "FixMHaving0L", "FixMDistinctL"):
        mutations = apply(BASE, strategy)
        assert mutations, strategy
        for mutation in mutations:
            verdict = check(BASE, mutation.sql, strategy)
            assert (verdict.conforms, verdict.is_upper, verdict.reason) == (True, mutation.is_upper, "conforms")


def test_having_1u_on_the_negated_having_is_upper_true_but_cmpop_inside_is_flipped():
    having = check(BASE, BASE.replace("HAVING NOT ((`f1`)<=(`f2`))", "HAVING 1"), "FixMHaving1U")
    assert (having.conforms, having.is_upper) == (True, True)
    inner = check(BASE, BASE.replace("(`f1`)<=(`f2`)", "(`f1`)<(`f2`)"), "FixMCmpOpL")
    assert (inner.conforms, inner.is_upper) == (True, True)  # L under NOT: flag 0, so upper


def test_whitespace_and_keyword_case_do_not_matter_identifiers_and_literals_do():
    mutated = BASE.replace("(`a`)>(_UTF8MB4'2008-05-25')", "(`a`)>=(_UTF8MB4'2008-05-25')")
    reformatted = mutated.replace(" AND ", "\n  and  ").replace("SELECT", "select").replace(" WHERE ", "\nwhere ")
    assert check(BASE, reformatted, "FixMCmpOpU").conforms
    renamed = mutated.replace("`col_float_undef_signed`", "`col_float_key_signed`")
    assert check(BASE, renamed, "FixMCmpOpU").reason == (
        "two edits where FixMCmpOpU makes one: `` `col_float_undef_signed` `` became `` `col_float_key_signed` `` "
        f"at char {BASE.index('`col_float_undef')}; `>` became `>=` at char {BASE.index(')>(') + 1}"
    )
    literal = BASE.replace("IN (1,2)", "IN (1,3)")
    assert check(BASE, literal, "FixMInNullU").reason == (
        f"text changed outside the mutation point: `2` became `3` at char {BASE.index('2)')}"
    )
    assert check(BASE + ";", mutated + ";", "FixMCmpOpU").conforms


def test_reasons_people_can_act_on():
    assert check(BASE, BASE.replace("(`a`)>(", "(`a`)<=("), "FixMCmpOpU").reason == (
        f"`>` became `<=` at char {BASE.index(')>(') + 1}, which FixMCmpOpU never does: it turns `=` into `>=`, `<` into `<=` and `>` into `>=`"
    )
    no_having = BASE[: BASE.index(" HAVING")]
    assert check(no_having, no_having.replace("WHERE", "HAVING"), "FixMHaving1U").reason == "no HAVING clause"
    assert check(BASE, BASE, "FixMCmpOpU").reason == "the mutated query is identical to the original"
    outside = BASE.replace("`t1`", "`t9`")
    assert check(BASE, outside, "FixMCmpOpU").reason == (
        f"text changed outside the mutation point: `` `t1` `` became `` `t9` `` at char {BASE.index('`t1`')}"
    )
    partial = BASE.replace("(`a`)>(_UTF8MB4'2008-05-25') AND ", "1 AND ")
    assert check(BASE, partial, "FixMWhere1U").reason == (
        "`` (`a`)>(_UTF8MB4'2008-05-25') AND (`b`) IN (1,2) `` became `` 1 AND (`b`) IN (1,2) `` "
        f"at char {BASE.index('(`a`)>(')}, which FixMWhere1U never does: it replaces the whole WHERE condition with 1"
    )
    assert check(BASE, BASE, "FixMNothing").reason == "unknown strategy 'FixMNothing'"
    assert check("DROP TABLE `t`", "SELECT 1", "FixMWhere1U").reason.startswith(
        "original SQL is not a readable SELECT: not a SELECT statement"
    )
    assert check(BASE, BASE + " 'oops", "FixMWhere1U").reason.startswith("mutated SQL does not tokenize: unterminated")


def test_a_correct_pair_under_another_strategys_name_does_not_conform():
    mutated = BASE.replace("HAVING NOT ((`f1`)<=(`f2`))", "HAVING 1")
    verdict = check(BASE, mutated, "FixMWhere1U")
    assert (verdict.conforms, verdict.is_upper) == (False, None)
    assert verdict.reason == "this is a FixMHaving1U mutation, not FixMWhere1U: FixMWhere1U replaces the whole WHERE condition with 1"
    assert check(BASE, mutated, "FixMOn1U").reason == "no JOIN … ON clause outside LEFT/RIGHT joins (the edit is a FixMHaving1U mutation)"
    assert strategies_matching(BASE, mutated) == ["FixMHaving1U"]


def test_distinct_l_with_order_by_select_does_not_conform():
    sql = f"SELECT (`a`) AS `f1` FROM {T3} ORDER BY `f1`"
    verdict = check(sql, sql.replace("SELECT", "SELECT DISTINCT", 1), "FixMDistinctL")
    assert verdict.reason == "no SELECT without DISTINCT, ORDER BY and its own WITH in a mutable position"


def test_random_strategies_accept_reachable_patterns_with_or_without_introducer():
    sql = f"SELECT 1 AS `f1` FROM {T3} WHERE _UTF8MB4'abc' LIKE _UTF8MB4'a%c'"
    assert check(sql, sql.replace("_UTF8MB4'a%c'", "'a_c'"), "RdMLikeL").is_upper is False
    assert check(sql, sql.replace("_UTF8MB4'a%c'", "_UTF8MB4'a_c'"), "RdMLikeL").conforms
    assert check(sql, sql.replace("_UTF8MB4'a%c'", "'%%%'"), "RdMLikeU").conforms
    assert check(sql, sql.replace("_UTF8MB4'a%c'", "'a%c'"), "RdMLikeU").conforms  # every draw said "keep"
    assert check(sql, sql.replace("_UTF8MB4'a%c'", "'b%c'"), "RdMLikeU").reason == (
        f"`_UTF8MB4'a%c'` became `'b%c'` at char {sql.rindex('_UTF8MB4')}, which RdMLikeU never does: it turns some characters other "
        "than `%` of a literal LIKE pattern into `%`"
    )
    regexp = f"SELECT 1 AS `f1` FROM {T3} WHERE _UTF8MB4'abc' REGEXP _UTF8MB4'^a+b?$'"
    assert check(regexp, regexp.replace("_UTF8MB4'^a+b?$'", "'a*b?'"), "RdMRegExpU").conforms
    assert not check(regexp, regexp.replace("_UTF8MB4'^a+b?$'", "'a+b?$^'"), "RdMRegExpU").conforms
    assert not check(regexp, regexp.replace("_UTF8MB4'^a+b?$'", "'^a*b?$'"), "RdMRegExpL").conforms


def test_union_strategies_judged():
    sql = f"SELECT `pk` AS `f1` FROM {T3} UNION ALL SELECT `pk` AS `f1` FROM `t`"
    assert check(sql, f"SELECT `pk` AS `f1` FROM {T3}", "FixMRmUnionAllL").conforms
    assert check(sql, sql.replace("UNION ALL", "UNION"), "FixMUnionAllL").conforms
    assert check(sql, sql.replace("UNION ALL", "union   all"), "FixMUnionAllL").reason == (
        "the mutated query is identical to the original"
    )
    assert not check(sql, sql.replace("UNION ALL", "UNION"), "FixMUnionAllU").conforms


@pytest.mark.parametrize("strategy", ["FixMCmpOpU", "FixMInNullU", "FixMHaving1U", "FixMWhere0L", "FixMDistinctL"])
def test_sqlsim_pairs_conform_too(strategy):
    wrapped = f"WITH `MYWITH` AS ({BASE}) SELECT * FROM `MYWITH`"
    for mutation in apply(wrapped, strategy):
        simple_original, simple_mutated = simplify(wrapped, mutation.sql)
        assert "_UTF8MB4" not in simple_original and "USE INDEX" not in simple_original
        assert "ORDER BY" not in simple_original and "MYWITH" not in simple_original
        verdict = check(simple_original, simple_mutated, strategy)
        assert (verdict.conforms, verdict.is_upper) == (True, mutation.is_upper)


def test_strategy_list_is_the_reference_table():
    assert len(STRATEGIES) == 18 and len(set(STRATEGIES)) == 18
    assert STRATEGIES[0] == "FixMDistinctU" and STRATEGIES[-1] == "RdMRegExpL"


def test_a_mutated_side_that_is_not_a_single_select_says_so():
    drop = check(BASE, "DROP TABLE `table_3_utf8_undef`", "FixMWhere1U")
    assert drop.reason.startswith("mutated SQL is not a single SELECT: not a SELECT statement: expected SELECT")
    two = check(BASE, BASE.replace("WHERE (`a`)>(", "WHERE 1 AND (`a`)>(") + "; DROP TABLE `t`", "FixMWhere1U")
    assert two.reason.startswith("mutated SQL is not a single SELECT: more than one statement near 'DROP'")


def test_every_failure_has_a_stable_kind_for_grouping():
    from mutations.checker import REASON_KINDS

    cases = {
        "conforms": check(BASE, BASE.replace(")>(", ")>=("), "FixMCmpOpU"),
        "wrong_rewrite": check(BASE, BASE.replace(")>(", ")<=("), "FixMCmpOpU"),
        "identical": check(BASE, BASE, "FixMCmpOpU"),
        "outside_mutation_point": check(BASE, BASE.replace("`t1`", "`t9`"), "FixMCmpOpU"),
        "several_edits": check(BASE, BASE.replace(")>(", ")>=(").replace("`t1`", "`t9`"), "FixMCmpOpU"),
        "other_strategy": check(BASE, BASE.replace("HAVING NOT ((`f1`)<=(`f2`))", "HAVING 1"), "FixMWhere1U"),
        "reversed": check(BASE.replace(")>(", ")>=("), BASE, "FixMCmpOpU"),
        "no_mutation_point": check(BASE, BASE, "FixMOn1U"),
        "mutated_not_select": check(BASE, "DROP TABLE `t`", "FixMWhere1U"),
        "original_unreadable": check("DROP TABLE `t`", BASE, "FixMWhere1U"),
        "mutated_unreadable": check(BASE, "SELECT 'x", "FixMWhere1U"),
        "unknown_strategy": check(BASE, BASE, "FixMNope"),
    }
    assert {kind: verdict.kind for kind, verdict in cases.items()} == {kind: kind for kind in cases}
    assert set(cases) == set(REASON_KINDS)
