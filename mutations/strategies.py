"""PINOLO's 18 mutation strategies (reference §4): names, direction, and what each one does, in words."""

from __future__ import annotations

from .errors import UnknownStrategyError

# Order of the reference's §4 table; the dataset and reports keep it.
STRATEGIES: tuple[str, ...] = (
    "FixMDistinctU",
    "FixMDistinctL",
    "FixMUnionAllU",
    "FixMUnionAllL",
    "FixMCmpOpU",
    "FixMCmpOpL",
    "FixMInNullU",
    "FixMWhere1U",
    "FixMWhere0L",
    "FixMHaving1U",
    "FixMHaving0L",
    "FixMOn1U",
    "FixMOn0L",
    "FixMRmUnionAllL",
    "RdMLikeU",
    "RdMLikeL",
    "RdMRegExpU",
    "RdMRegExpL",
)

RANDOM_STRATEGIES: frozenset[str] = frozenset({"RdMLikeU", "RdMLikeL", "RdMRegExpU", "RdMRegExpL"})

# What the strategy does, phrased to complete "… never does: it <rule>" in a verdict.
RULES: dict[str, str] = {
    "FixMDistinctU": "removes DISTINCT from a SELECT",
    "FixMDistinctL": "adds DISTINCT to a SELECT that has no DISTINCT, no ORDER BY and no WITH of its own",
    "FixMUnionAllU": "turns UNION into UNION ALL before an unparenthesised SELECT",
    "FixMUnionAllL": "turns UNION ALL into UNION before an unparenthesised SELECT",
    "FixMCmpOpU": "turns `=` into `>=`, `<` into `<=` and `>` into `>=`",
    "FixMCmpOpL": "turns `>=` into `>`, `<=` into `<` and `!=`/`<>` into `<`",
    "FixMInNullU": "appends NULL to an IN (…) value list",
    "FixMWhere1U": "replaces the whole WHERE condition with 1",
    "FixMWhere0L": "replaces the whole WHERE condition with 0",
    "FixMHaving1U": "replaces the whole HAVING condition with 1",
    "FixMHaving0L": "replaces the whole HAVING condition with 0",
    "FixMOn1U": "replaces the whole ON condition with 1",
    "FixMOn0L": "replaces the whole ON condition with 0",
    "FixMRmUnionAllL": "keeps only the first SELECT of a two-element UNION ALL whose second element is unparenthesised",
    "RdMLikeU": "turns some characters other than `%` of a literal LIKE pattern into `%`",
    "RdMLikeL": "turns some `%` of a literal LIKE pattern into `_`",
    "RdMRegExpU": "may drop a leading `^` and a trailing `$` and turn some `+`/`?` into `*` in a literal REGEXP pattern",
    "RdMRegExpL": "turns some `*` of a literal REGEXP pattern into `+` or `?`",
}

# Why a query offers no mutation point for the strategy; the first thing a user needs to hear.
NO_CANDIDATE_REASONS: dict[str, str] = {
    "FixMDistinctU": "no SELECT DISTINCT in a mutable position",
    "FixMDistinctL": "no SELECT without DISTINCT, ORDER BY and its own WITH in a mutable position",
    "FixMUnionAllU": "no UNION (distinct) before an unparenthesised SELECT",
    "FixMUnionAllL": "no UNION ALL before an unparenthesised SELECT",
    "FixMCmpOpU": "no `=`, `<` or `>` comparison in a WHERE, HAVING or ON predicate",
    "FixMCmpOpL": "no `>=`, `<=` or `!=` comparison in a WHERE, HAVING or ON predicate",
    "FixMInNullU": "no IN (…) value list in a WHERE, HAVING or ON predicate",
    "FixMWhere1U": "no WHERE clause",
    "FixMWhere0L": "no WHERE clause",
    "FixMHaving1U": "no HAVING clause",
    "FixMHaving0L": "no HAVING clause",
    "FixMOn1U": "no JOIN … ON clause outside LEFT/RIGHT joins",
    "FixMOn0L": "no JOIN … ON clause outside LEFT/RIGHT joins",
    "FixMRmUnionAllL": "no two-element UNION ALL whose second SELECT is unparenthesised",
    "RdMLikeU": "no LIKE between two string literals whose pattern has a character other than `%`",
    "RdMLikeL": "no LIKE between two string literals whose pattern contains `%`",
    "RdMRegExpU": "no REGEXP between two string literals",
    "RdMRegExpL": "no REGEXP between two string literals",
}


def require_strategy(name: str) -> str:
    """Return the name if it is one of the 18, else raise UnknownStrategyError."""
    if name not in RULES:
        raise UnknownStrategyError(name)
    return name
