"""Hand-written cases for each of PINOLO's 18 strategies: mutation points, rewrites, polarity, exclusions."""

from __future__ import annotations

import pytest

from mutations import SqlSyntaxError, UnknownStrategyError, apply, candidates

T3 = "`table_3_utf8_undef`"
T7 = "`table_7_utf8_undef`"
DERIVED = f"(SELECT `col_bigint_key_signed` AS `a`,`col_float_undef_signed` AS `b`,`col_char(20)_key_signed` AS `c` FROM {T3}) AS `t1`"


def mutated(sql: str, strategy: str, seed: int | None = None) -> list[tuple[str, bool]]:
    return [(m.sql, m.is_upper) for m in apply(sql, strategy, seed=seed)]


def points(sql: str, strategy: str) -> list[tuple[str, bool]]:
    return [(sql[c.start : c.end], c.is_upper) for c in candidates(sql, strategy)]


# -- FixMDistinctU / FixMDistinctL -------------------------------------------------------------------------


def test_distinct_u_removes_distinct():
    sql = f"SELECT DISTINCT (`a`) AS `f1` FROM {DERIVED}"
    assert mutated(sql, "FixMDistinctU") == [(f"SELECT (`a`) AS `f1` FROM {DERIVED}", True)]
    # only the derived table's SELECT can take DISTINCT; the outer one already has it
    assert [c.start for c in candidates(sql, "FixMDistinctL")] == [sql.index(" `col_bigint_key_signed`")]


def test_distinct_l_adds_distinct_to_every_eligible_select_in_discovery_order():
    sql = f"SELECT (`a`) AS `f1` FROM {DERIVED} WHERE (`a`) IN (SELECT `col_bigint_key_signed` FROM {T7})"
    result = mutated(sql, "FixMDistinctL")
    # inner-first discovery: the derived table, then the IN subquery, then the outer SELECT
    assert [m for m, _ in result] == [
        sql.replace("(SELECT `col_bigint_key_signed` AS", "(SELECT DISTINCT `col_bigint_key_signed` AS"),
        sql.replace("IN (SELECT `col", "IN (SELECT DISTINCT `col"),
        "SELECT DISTINCT" + sql[len("SELECT"):],
    ]
    assert [upper for _, upper in result] == [False, False, False]


def test_distinct_l_skips_select_with_order_by_and_the_with_wrapper():
    inner = f"SELECT (`a`) AS `f1` FROM {DERIVED} ORDER BY `f1`"
    sql = f"WITH `MYWITH` AS ({inner}) SELECT * FROM `MYWITH`"
    # the derived table's SELECT is the only eligible one
    assert [text for text, _ in points(sql, "FixMDistinctL")] == [""]
    assert candidates(sql, "FixMDistinctL")[0].start == sql.index("`col_bigint_key_signed` AS `a`") - 1


def test_distinct_l_in_not_in_subquery_is_upper():
    sql = f"SELECT 1 AS `f1` FROM {T3} WHERE (`pk`) NOT IN (SELECT `pk` FROM {T7})"
    result = dict((c.node + str(c.start), c.is_upper) for c in candidates(sql, "FixMDistinctL"))
    assert sorted(result.values()) == [False, True]  # negative context under NOT IN: L becomes upper


# -- union strategies ----------------------------------------------------------------------------------------


def test_union_all_u_and_l_fire_only_on_unparenthesised_operands():
    union = f"SELECT `pk` AS `f1` FROM {T3} UNION SELECT `pk` AS `f1` FROM {T7}"
    assert mutated(union, "FixMUnionAllU") == [(union.replace(" UNION ", " UNION ALL "), True)]
    union_all = union.replace(" UNION ", " UNION ALL ")
    assert mutated(union_all, "FixMUnionAllL") == [(union, False)]
    parenthesised = f"(SELECT `pk` AS `f1` FROM {T3}) UNION ALL (SELECT `pk` AS `f1` FROM {T7})"
    for name in ("FixMUnionAllU", "FixMUnionAllL", "FixMRmUnionAllL"):
        assert candidates(parenthesised, name) == []
    assert len(candidates(parenthesised, "FixMDistinctL")) == 2  # the operands are still visited


def test_rm_union_all_l_keeps_the_first_select():
    sql = f"SELECT `pk` AS `f1` FROM {T3} UNION ALL SELECT `pk` AS `f1` FROM {T7}"
    assert mutated(sql, "FixMRmUnionAllL") == [(f"SELECT `pk` AS `f1` FROM {T3}", False)]
    three = sql + f" UNION ALL SELECT 1 AS `f1` FROM {T3}"
    assert candidates(three, "FixMRmUnionAllL") == []
    distinct_union = sql.replace("UNION ALL", "UNION")
    assert candidates(distinct_union, "FixMRmUnionAllL") == []
    mixed = f"(SELECT `pk` AS `f1` FROM {T3}) UNION ALL SELECT `pk` AS `f1` FROM {T7}"
    assert mutated(mixed, "FixMRmUnionAllL") == [(f"(SELECT `pk` AS `f1` FROM {T3})", False)]


# -- comparisons ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "strategy", "replacement"),
    [("=", "FixMCmpOpU", ">="), ("<", "FixMCmpOpU", "<="), (">", "FixMCmpOpU", ">="),
     (">=", "FixMCmpOpL", ">"), ("<=", "FixMCmpOpL", "<"), ("!=", "FixMCmpOpL", "<"), ("<>", "FixMCmpOpL", "<")],
)
def test_comparison_operators(operator, strategy, replacement):
    sql = f"SELECT (`a`) AS `f1` FROM {DERIVED} WHERE (`a`){operator}(`b`)"
    expected_upper = strategy.endswith("U")
    assert mutated(sql, strategy) == [(sql.replace(f"(`a`){operator}(`b`)", f"(`a`){replacement}(`b`)"), expected_upper)]
    other = "FixMCmpOpL" if strategy == "FixMCmpOpU" else "FixMCmpOpU"
    assert candidates(sql, other) == []


def test_null_safe_and_comparison_operands_are_not_mutation_points():
    sql = f"SELECT (`a`) AS `f1` FROM {DERIVED} WHERE ((`a`)>(`b`))<=>(1) AND ((`a`)<(1))=(0)"
    assert points(sql, "FixMCmpOpU") == [("=", True)]  # only the outer `=`; operands are never entered
    assert points(sql, "FixMCmpOpL") == []


def test_subquery_comparison_any_and_all():
    sql = f"SELECT (`a`) AS `f1` FROM {DERIVED} WHERE (`a`)=ANY (SELECT `pk` FROM {T7} WHERE `pk`>1)"
    assert mutated(sql, "FixMCmpOpU")[0] == (sql.replace(")=ANY (", ")>=ANY ("), True)
    assert points(sql, "FixMCmpOpU") == [("=", True), (">", True)]  # ANY keeps the flag
    all_sql = sql.replace("=ANY", "<=ALL")
    assert points(all_sql, "FixMCmpOpL") == [("<=", False)]
    assert points(all_sql, "FixMCmpOpU") == [(">", False)]  # the subquery under ALL is flipped
    assert points(all_sql, "FixMWhere1U") == [("`pk`>1", False), ("(`a`)<=ALL (SELECT `pk` FROM `table_7_utf8_undef` WHERE `pk`>1)", True)]


def test_qtran_sample_polarity_not_equal_is_a_lower_point_not_a_flip():
    # reference §3.2: IS FALSE flips to 0, NOT flips back to 1; `!=` is a CmpOpL point with flag 1
    sql = f"SELECT (`a`) AS `f1` FROM {DERIVED} WHERE (((`a`)>(`c`) OR NOT ((`f8`)!=(`f7`))) AND (`b`)<(2)) IS FALSE"
    [point] = candidates(sql, "FixMCmpOpL")
    assert (sql[point.start : point.end], point.flag, point.is_upper) == ("!=", 1, False)
    assert points(sql, "FixMCmpOpU") == [(">", False), ("<", False)]


@pytest.mark.parametrize(
    ("predicate", "flag"),
    [
        ("(`a`)>(1)", 1),
        ("NOT ((`a`)>(1))", 0),
        ("!((`a`)>(1))", 0),
        ("!!((`a`)>(1))", 1),
        ("((`a`)>(1)) IS TRUE", 1),
        ("((`a`)>(1)) IS FALSE", 0),
        ("((`a`)>(1)) IS NOT TRUE", 0),
        ("((`a`)>(1)) IS NOT FALSE", 1),
        ("NOT (((`a`)>(1)) IS FALSE)", 1),
        ("NOT EXISTS (SELECT 1 FROM `t` WHERE (`a`)>(1))", 0),
        ("EXISTS (SELECT 1 FROM `t` WHERE (`a`)>(1))", 1),
        ("(`b`) NOT IN (SELECT `x` FROM `t` WHERE (`a`)>(1))", 0),
        ("(`b`)>ALL (SELECT `x` FROM `t` WHERE (`a`)>(1))", 0),
        ("(`b`)>=SOME (SELECT `x` FROM `t` WHERE (`a`)>(1))", 1),
        ("ROW(`a`,`b`) NOT IN (SELECT `x`,`y` FROM `t` WHERE (`a`)>(1))", 0),
        ("(SELECT 1 FROM `t` WHERE (`a`)>(1))", 1),
    ],
)
def test_polarity_flag_of_a_nested_comparison(predicate, flag):
    sql = f"SELECT (`a`) AS `f1` FROM {DERIVED} WHERE {predicate}"
    inner = [c for c in candidates(sql, "FixMCmpOpU") if sql[c.start - 5 : c.start] == "(`a`)"]
    assert [(c.flag, c.is_upper) for c in inner] == [(flag, flag == 1)]


def test_is_null_xor_between_case_and_function_arguments_are_opaque():
    sql = (f"SELECT (`a`) AS `f1` FROM {DERIVED} WHERE ((`a`)>(1)) IS NULL OR ((`a`)<(2)) XOR ((`a`)=(3)) "
           "OR (`a`) BETWEEN (1) AND (2) OR IF((`a`)>(1), 1, 0) OR CASE WHEN (`a`)>(1) THEN 1 END")
    assert candidates(sql, "FixMCmpOpU") == []


# -- IN lists -------------------------------------------------------------------------------------------------


def test_in_null_u_appends_null_and_respects_not_in():
    sql = f"SELECT (`a`) AS `f1` FROM {DERIVED} WHERE (`a`) IN (1,_UTF8MB4'x',2.5) AND (`b`) NOT IN (3)"
    assert mutated(sql, "FixMInNullU") == [
        (sql.replace("IN (1,_UTF8MB4'x',2.5)", "IN (1,_UTF8MB4'x',2.5,NULL)"), True),
        (sql.replace("NOT IN (3)", "NOT IN (3,NULL)"), False),
    ]


def test_in_subquery_and_select_list_give_no_in_null_point():
    sql = f"SELECT ((`a`) IN (1,2)) AS `f1` FROM {DERIVED} WHERE (`a`) IN (SELECT `pk` FROM {T7})"
    assert candidates(sql, "FixMInNullU") == []


# -- WHERE / HAVING / ON ----------------------------------------------------------------------------------------


def test_where_having_replacements():
    sql = f"SELECT (`a`) AS `f1` FROM {DERIVED} WHERE (`a`)>(1) AND (`b`)<(2) HAVING (`f1`) IS TRUE ORDER BY `f1`"
    assert mutated(sql, "FixMWhere1U") == [(sql.replace("(`a`)>(1) AND (`b`)<(2)", "1"), True)]
    assert mutated(sql, "FixMWhere0L") == [(sql.replace("(`a`)>(1) AND (`b`)<(2)", "0"), False)]
    assert mutated(sql, "FixMHaving1U") == [(sql.replace("HAVING (`f1`) IS TRUE", "HAVING 1"), True)]
    assert mutated(sql, "FixMHaving0L") == [(sql.replace("HAVING (`f1`) IS TRUE", "HAVING 0"), False)]
    bare = f"SELECT (`a`) AS `f1` FROM {DERIVED}"
    for name in ("FixMWhere1U", "FixMWhere0L", "FixMHaving1U", "FixMHaving0L"):
        assert candidates(bare, name) == []


def test_on_replacements_and_join_kinds():
    right = f"(SELECT `pk` AS `d` FROM {T7}) AS `t2`"
    for join in ("JOIN", "STRAIGHT_JOIN", "INNER JOIN", "CROSS JOIN"):
        sql = f"SELECT (`a`) AS `f1` FROM {DERIVED} {join} {right} ON (`a`)=(`d`)"
        assert mutated(sql, "FixMOn1U") == [(sql.replace("ON (`a`)=(`d`)", "ON 1"), True)]
        assert mutated(sql, "FixMOn0L") == [(sql.replace("ON (`a`)=(`d`)", "ON 0"), False)]
    natural = f"SELECT (`a`) AS `f1` FROM {DERIVED} NATURAL JOIN {right}"
    assert candidates(natural, "FixMOn1U") == []
    assert len(candidates(natural, "FixMDistinctL")) == 3  # both sides are still visited
    no_on = f"SELECT (`a`) AS `f1` FROM {DERIVED} JOIN {right}"
    assert candidates(no_on, "FixMOn1U") == []


def test_left_and_right_joins_are_skipped_with_their_subtree():
    right = f"(SELECT `pk` AS `d` FROM {T7} WHERE `pk`>1) AS `t2`"
    sql = f"SELECT (`a`) AS `f1` FROM {DERIVED} LEFT JOIN {right} ON (`a`)=(`d`) WHERE (`a`)<(3)"
    assert points(sql, "FixMOn1U") == []
    assert points(sql, "FixMCmpOpU") == [("<", True)]  # nothing from the join, only the outer WHERE
    assert len(candidates(sql, "FixMDistinctL")) == 1


def test_with_wrapper_and_union_inside():
    body = (f"(SELECT (`a`) AS `f1` FROM {DERIVED} WHERE (`a`)>(1)) UNION "
            f"(SELECT (`d`) AS `f1` FROM (SELECT `pk` AS `d` FROM {T7}) AS `t2` HAVING (`f1`)<(5))")
    sql = f"WITH `MYWITH` AS ({body}) SELECT * FROM `MYWITH`"
    assert points(sql, "FixMCmpOpU") == [(">", True), ("<", True)]
    assert [c.strategy for c in candidates(sql) if c.strategy.startswith("FixMHaving")] == ["FixMHaving1U", "FixMHaving0L"]
    recursive = sql.replace("WITH `MYWITH`", "WITH RECURSIVE `MYWITH`")
    assert candidates(recursive) == []


# -- RdM* ------------------------------------------------------------------------------------------------------


def test_like_mutators_need_two_string_literals():
    cast = f"SELECT (`a`) AS `f1` FROM {DERIVED} WHERE CAST((`a`) AS CHAR) LIKE _UTF8MB4'%0%'"
    assert candidates(cast, "RdMLikeU") == [] and candidates(cast, "RdMLikeL") == []
    literal = f"SELECT (`a`) AS `f1` FROM {DERIVED} WHERE _UTF8MB4'abc' NOT LIKE _UTF8MB4'a%c'"
    assert points(literal, "RdMLikeU") == [("_UTF8MB4'a%c'", False)]
    assert points(literal, "RdMLikeL") == [("_UTF8MB4'a%c'", True)]
    only_percent = literal.replace("'a%c'", "'%%'")
    assert candidates(only_percent, "RdMLikeU") == [] and len(candidates(only_percent, "RdMLikeL")) == 1
    no_percent = literal.replace("'a%c'", "'abc'")
    assert candidates(no_percent, "RdMLikeL") == [] and len(candidates(no_percent, "RdMLikeU")) == 1


def test_like_mutations_drop_the_introducer_and_follow_the_rules():
    sql = f"SELECT 1 AS `f1` FROM {T3} WHERE _UTF8MB4'abcdef' LIKE _UTF8MB4'a%c%e_'"
    outputs = {m.replacement for seed in range(40) for m in apply(sql, "RdMLikeU", seed=seed)}
    assert len(outputs) > 10
    for replacement in outputs:
        value = replacement[1:-1]
        assert len(value) == 6 and all(o == m or m == "%" for o, m in zip("a%c%e_", value))
        assert not replacement.startswith("_UTF8MB4")
    lowered = {m.replacement for seed in range(40) for m in apply(sql, "RdMLikeL", seed=seed)}
    assert lowered == {"'a%c%e_'", "'a_c%e_'", "'a%c_e_'", "'a_c_e_'"}


def test_regexp_mutators_follow_the_rules():
    sql = f"SELECT 1 AS `f1` FROM {T3} WHERE _UTF8MB4'ab' REGEXP _UTF8MB4'^[a-z]+?$'"
    upper = {m.replacement for seed in range(200) for m in apply(sql, "RdMRegExpU", seed=seed)}
    assert upper == {f"'{p}{body}{s}'" for p in ("^", "") for s in ("$", "") for body in
                     ("[a-z]+?", "[a-z]*?", "[a-z]+*", "[a-z]**")}
    star = sql.replace("'^[a-z]+?$'", "'a*b*'")
    lower = {m.replacement for seed in range(200) for m in apply(star, "RdMRegExpL", seed=seed)}
    assert lower == {f"'a{x}b{y}'" for x in "*+?" for y in "*+?"}
    assert all(m.is_upper for m in apply(sql, "RdMRegExpU")) and not any(m.is_upper for m in apply(star, "RdMRegExpL"))


def test_random_mutators_are_reproducible_for_a_seed():
    sql = f"SELECT 1 AS `f1` FROM {T3} WHERE _UTF8MB4'abcdef' LIKE _UTF8MB4'abcdefghij'"
    assert [m.sql for m in apply(sql, "RdMLikeU", seed=7)] == [m.sql for m in apply(sql, "RdMLikeU", seed=7)]
    assert apply(sql, "RdMLikeU", seed=7)[0].sql != apply(sql, "RdMLikeU", seed=8)[0].sql


# -- text fidelity and input handling ---------------------------------------------------------------------------


def test_text_outside_the_mutation_point_is_byte_identical():
    sql = ("select   (`col_decimal(40, 20)_key_unsigned`)  as `f1`\nFROM `table_3_utf8_undef`  use index "
           "(`col_bigint_key_signed`)\n  where   BINARY `x`  >  DATE_ADD(_UTF8MB4'2001-11-20', INTERVAL 1 HOUR_MINUTE)")
    [result] = apply(sql, "FixMCmpOpU")
    assert result.sql == sql.replace("  >  DATE", "  >=  DATE")
    assert (result.start, result.end) == (sql.index("  >  ") + 2, sql.index("  >  ") + 3)


def test_pinolo_rendering_forms_are_read():
    sql = (
        "SELECT (ATAN2(`a`)) AS `f1`,(BINARY `b`^~`c`) AS `f2`,(`c`+INTERVAL 1 HOUR_MINUTE) AS `f3` FROM "
        f"(SELECT `col_bigint_key_signed` AS `a` FROM {T7} FORCE INDEX (`col_bigint_key_signed`, `col_float_key_signed`)) AS `t1` "
        f"STRAIGHT_JOIN (SELECT `pk` AS `d` FROM {T3} IGNORE INDEX (`col_double_key_signed`)) AS `t2` ON "
        "ROW(`a`,`d`) IN (SELECT `pk`,`pk` FROM `t`) WHERE (`a`)>=ANY (SELECT `pk` FROM `t`) "
        "AND CAST((`a`) AS CHAR) NOT REGEXP _UTF8MB4'[0-9]+' AND (`a`) DIV 2 MOD 3 OR `a`<<2 "
        "HAVING (`f1`) IS FALSE"
    )
    names = [c.strategy for c in candidates(sql)]
    assert names.count("FixMDistinctL") == 5  # t1, t2, the ROW IN subquery, the ANY subquery, the outer SELECT
    assert "FixMOn1U" in names and "FixMCmpOpL" in names and "FixMHaving1U" in names


def test_errors_are_clear():
    with pytest.raises(SqlSyntaxError, match="not a SELECT statement"):
        candidates("DROP TABLE `t`")
    with pytest.raises(SqlSyntaxError, match="more than one statement"):
        candidates("SELECT 1 AS `f1` FROM `t`; DROP TABLE `t`")
    with pytest.raises(SqlSyntaxError, match="unterminated string literal at line 1"):
        candidates("SELECT 'abc FROM t")
    with pytest.raises(UnknownStrategyError):
        apply("SELECT 1", "FixMNothing")
    assert candidates("SELECT 1 AS `f1` FROM `t`;") == candidates("SELECT 1 AS `f1` FROM `t`")


@pytest.mark.parametrize(
    ("sql", "strategies"),
    [
        ("SELECT COUNT(*), GROUP_CONCAT(DISTINCT x ORDER BY y SEPARATOR ','), ROW_NUMBER() OVER (PARTITION BY a "
         "ORDER BY b) AS rn FROM db.t AS x, u WHERE x.a = u.b GROUP BY a WITH ROLLUP HAVING COUNT(*) > 1 "
         "ORDER BY 1 DESC LIMIT 1 OFFSET 2",
         ["FixMCmpOpU", "FixMCmpOpU", "FixMWhere1U", "FixMWhere0L", "FixMHaving1U", "FixMHaving0L"]),
        ("select a from t join u using (a) where case when a>1 then 1 else 0 end = 1 and "
         "convert(a using utf8) collate utf8mb4_bin like 'x%' escape '!'",
         ["FixMCmpOpU", "FixMDistinctL", "FixMWhere1U", "FixMWhere0L"]),
        ("SELECT t.* FROM t WHERE EXTRACT(DAY FROM d) > 1 AND TRIM(LEADING 'a' FROM x) = 'b' AND 0x1F = X'1F' "
         "AND b'01' < 1e5 AND .5 <> N'x'",
         ["FixMCmpOpU", "FixMCmpOpU", "FixMCmpOpU", "FixMCmpOpU", "FixMCmpOpL", "FixMDistinctL", "FixMWhere1U",
          "FixMWhere0L"]),
        ("SELECT 1 FROM t WHERE (a > 1) IS UNKNOWN AND a SOUNDS LIKE b AND 1 MEMBER OF (j) AND j->'$.a' = 1 "
         "AND INTERVAL(1,2,3) > 1 -- comment\n /* c */ AND @v FOR UPDATE",
         ["FixMCmpOpU", "FixMCmpOpU", "FixMDistinctL", "FixMWhere1U", "FixMWhere0L"]),
        ("SELECT 1 FROM t WHERE a IN ((SELECT 1), 2) AND (a, b) = (1, 2) AND EXISTS(SELECT 1)",
         ["FixMInNullU", "FixMCmpOpU", "FixMDistinctL", "FixMDistinctL", "FixMWhere1U", "FixMWhere0L"]),
        ("SELECT 1 FROM t WHERE a NOT IN ((SELECT 1 FROM u WHERE b>1) UNION (SELECT 2))",
         ["FixMCmpOpU", "FixMDistinctL", "FixMWhere1U", "FixMWhere0L", "FixMDistinctL", "FixMDistinctL",
          "FixMWhere1U", "FixMWhere0L"]),
        ("((SELECT 1 FROM t WHERE a>1) UNION (SELECT 2 FROM u)) ORDER BY 1 LIMIT 3",
         ["FixMCmpOpU", "FixMDistinctL", "FixMWhere1U", "FixMWhere0L", "FixMDistinctL"]),
        ("SELECT * FROM (t1 JOIN t2 ON t1.a = t2.a) LEFT JOIN t3 ON 1 WHERE a > DATE_SUB(NOW(), INTERVAL 1 DAY) "
         "AND b + INTERVAL 2 HOUR < c",
         ["FixMCmpOpU", "FixMCmpOpU", "FixMDistinctL", "FixMWhere1U", "FixMWhere0L"]),
    ],
)
def test_wider_mysql_syntax_is_read(sql, strategies):
    assert [c.strategy for c in candidates(sql)] == strategies


@pytest.mark.parametrize(
    ("strategy", "before", "after", "expected"),
    [
        ("RdMLikeU", "a_c", "%_%", True),
        ("RdMLikeU", "a%c", "a_c", False),
        ("RdMLikeU", "abc", "abcd", False),
        ("RdMLikeL", "%a%", "_a%", True),
        ("RdMLikeL", "%a%", "_b%", False),
        ("RdMRegExpU", "^a+$", "a*", True),
        ("RdMRegExpU", "^a+$", "^a*$", True),
        ("RdMRegExpU", "^a+$", "a+$", True),
        ("RdMRegExpU", "a+", "^a+", False),
        ("RdMRegExpU", "a*", "a+", False),
        ("RdMRegExpL", "a*b*", "a+b?", True),
        ("RdMRegExpL", "a*b*", "a+b.", False),
    ],
)
def test_can_produce_tells_reachable_patterns(strategy, before, after, expected):
    from mutations import can_produce

    assert can_produce(strategy, before, after) is expected
