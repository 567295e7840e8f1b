"""PINOLO's stage-2 visitor (reference §3) and the 18 mutators (§4), applied as exact text edits.

`candidates(sql)` walks the query exactly where PINOLO's hand-written visitor walks, carrying the polarity
flag, and records every mutation point. `apply(sql, strategy)` turns each point into a mutated query by
replacing the point's character span, so everything outside it stays byte-identical to the input.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import lru_cache

from .parser import Expr, Parser, Query, Select, SetOp, TableRef, With, parse
from .patterns import mutate_pattern
from .strategies import require_strategy
from .tokens import Tokens, first_long_look

CMP_UPPER = {"=": ">=", "<": "<=", ">": ">="}
CMP_LOWER = {">=": ">", "<=": "<", "!=": "<"}


@dataclass(frozen=True, slots=True)
class Candidate:
    """One mutation point: where a strategy applies, with its polarity and expected containment.

    `start`/`end` is the character span of `sql` that the mutation replaces (equal for an insertion);
    `tok_start`/`tok_end` the same span in tokens. `replacement` is the fixed new text, or None for the
    four RdM* strategies, whose new pattern is drawn at random from `pattern`.
    """

    strategy: str
    is_upper: bool
    flag: int
    node: str
    start: int
    end: int
    tok_start: int
    tok_end: int
    replacement: str | None
    pattern: str | None = None

    @property
    def location(self) -> tuple[int, int]:
        return (self.start, self.end)


# The slots' own setters, in field order: `_new_candidate` fills a fresh Candidate through them.
_CANDIDATE_SETTERS = tuple(getattr(Candidate, name).__set__ for name in Candidate.__dataclass_fields__)
_allocate = object.__new__


def _new_candidate(strategy: str, is_upper: bool, flag: int, node: str, start: int, end: int, tok_start: int,
                   tok_end: int, replacement: str | None, pattern: str | None) -> Candidate:
    """`Candidate(...)` with every field given, for the visitor's hot loop: the frozen dataclass's __init__
    sets each field through `object.__setattr__`, the slot setters build the same object in about half the
    time (an analysis makes a dozen candidates per query)."""
    candidate = _allocate(Candidate)
    (set_strategy, set_is_upper, set_flag, set_node, set_start, set_end, set_tok_start, set_tok_end,
     set_replacement, set_pattern) = _CANDIDATE_SETTERS
    set_strategy(candidate, strategy)
    set_is_upper(candidate, is_upper)
    set_flag(candidate, flag)
    set_node(candidate, node)
    set_start(candidate, start)
    set_end(candidate, end)
    set_tok_start(candidate, tok_start)
    set_tok_end(candidate, tok_end)
    set_replacement(candidate, replacement)
    set_pattern(candidate, pattern)
    return candidate


@dataclass(frozen=True, slots=True)
class Mutation:
    """One mutated query produced by `apply`."""

    strategy: str
    sql: str
    is_upper: bool
    node: str
    start: int
    end: int
    replacement: str

    @property
    def location(self) -> tuple[int, int]:
        return (self.start, self.end)


class _Visitor:
    """Collects candidates in PINOLO's discovery order: FROM, WHERE, HAVING, WITH, then the SELECT itself."""

    def __init__(self, parser: Parser) -> None:
        self.parser = parser
        self.tokens = parser.tokens
        self.found: list[Candidate] = []
        self.reached: list[Query] | None = None  # set to a list to record every query block visited

    # -- recording ---------------------------------------------------------------------------------------

    def add(self, strategy: str, flag: int, node: str, tok_start: int, tok_end: int, replacement: str | None,
            pattern: str | None = None, span: tuple[int, int] | None = None) -> None:
        tokens = self.tokens
        if span is not None:
            start, end = span
        elif tok_end > tok_start:
            start, end = tokens.starts[tok_start], tokens.ends[tok_end - 1]
        else:  # insertion before token tok_start
            start = end = tokens.starts[tok_start] if tok_start < len(tokens) else len(tokens.sql)
        upper = strategy[-1] == "U"
        self.found.append(
            _new_candidate(strategy, upper == bool(flag), flag, node, start, end, tok_start, tok_end, replacement,
                           pattern)
        )

    # -- queries -----------------------------------------------------------------------------------------

    def query(self, query: Query, flag: int) -> None:
        if self.reached is not None:
            self.reached.append(query)
        if isinstance(query, Select):
            self.select(query, flag)
        elif isinstance(query, SetOp):
            if query.with_ is not None:
                self.with_(query.with_, flag)
            for element in query.elements:
                self.query(element, flag)
            self.mine_set(query, flag)
        else:
            if query.with_ is not None:
                self.with_(query.with_, flag)
            self.query(query.inner, flag)

    def with_(self, with_: With, flag: int) -> None:
        if with_.recursive:
            return
        for cte in with_.ctes:
            self.query(cte.body, flag)

    def select(self, select: Select, flag: int) -> None:
        if select.from_ is not None:
            self.table(select.from_, flag)
        if select.where is not None:
            self.expr(select.where, flag)
        if select.having is not None:
            self.expr(select.having, flag)
        if select.with_ is not None:
            self.with_(select.with_, flag)
        self.mine_select(select, flag)

    def mine_select(self, select: Select, flag: int) -> None:
        starts, ends = self.tokens.starts, self.tokens.ends
        if select.distinct_token is not None:
            # The keyword goes together with the whitespace after it: `SELECT DISTINCT x` -> `SELECT x`.
            token = select.distinct_token
            self.add("FixMDistinctU", flag, "SELECT", token, token + 1, "", span=(starts[token], starts[token + 1]))
        elif select.order_by is None and select.with_ is None:
            if select.all_token is not None:
                self.add("FixMDistinctL", flag, "SELECT", select.all_token, select.all_token + 1, "DISTINCT")
            else:
                # Inserted right after SELECT, with its own leading space, so `SELECT(x)` stays readable too.
                after_select = ends[select.select_token]
                self.add("FixMDistinctL", flag, "SELECT", select.select_token + 1, select.select_token + 1,
                         " DISTINCT", span=(after_select, after_select))
        operator = select.after_op
        if operator is not None and operator.kind == "UNION":
            if operator.is_all:
                self.add("FixMUnionAllL", flag, "UNION", operator.first, operator.last, "UNION")
            else:
                self.add("FixMUnionAllU", flag, "UNION", operator.first, operator.last, "UNION ALL")
        where = select.where
        if where is not None:
            self.add("FixMWhere1U", flag, "WHERE", where.first, where.last, "1")
            self.add("FixMWhere0L", flag, "WHERE", where.first, where.last, "0")
        having = select.having
        if having is not None:
            self.add("FixMHaving1U", flag, "HAVING", having.first, having.last, "1")
            self.add("FixMHaving0L", flag, "HAVING", having.first, having.last, "0")

    def mine_set(self, setop: SetOp, flag: int) -> None:
        elements = setop.elements
        if len(elements) != 2:
            return
        second = elements[1]
        operator = setop.operators[0]
        if isinstance(second, Select) and operator.kind == "UNION" and operator.is_all:
            ends = self.tokens.ends
            span = (ends[elements[0].last - 1], ends[second.last - 1])
            self.add("FixMRmUnionAllL", flag, "UNION", elements[0].last, second.last, "", span=span)

    # -- FROM --------------------------------------------------------------------------------------------

    def table(self, ref: TableRef, flag: int) -> None:
        kind = ref.kind
        if kind == "join":
            if ref.join_type in ("LEFT", "RIGHT"):
                return  # PINOLO skips outer joins with their whole subtree
            self.table(ref.left, flag)  # type: ignore[arg-type]
            self.table(ref.right, flag)  # type: ignore[arg-type]
            on = ref.on
            if on is not None:
                self.expr(on, flag)
                self.add("FixMOn1U", flag, "ON", on.first, on.last, "1")
                self.add("FixMOn0L", flag, "ON", on.first, on.last, "0")
        elif kind == "derived":
            self.query(ref.query, flag)  # type: ignore[arg-type]
        elif kind == "paren":
            self.table(ref.left, flag)  # type: ignore[arg-type]

    # -- predicates --------------------------------------------------------------------------------------

    def expr(self, node: Expr, flag: int) -> None:
        kind = node.kind
        if kind == "and" or kind == "or":
            self.expr(node.left, flag)  # type: ignore[arg-type]
            self.expr(node.right, flag)  # type: ignore[arg-type]
        elif kind == "opaque":
            if not node.plain:
                return
            flag ^= node.bangs & 1
            if node.primary == "group":
                inner = self.parser.group(node.group)
                if inner is None:
                    return
                if isinstance(inner, Expr):
                    self.expr(inner, flag)
                else:
                    self.query(inner, flag)
            elif node.primary == "exists":
                self.query(self.parser.subquery(node.group), flag)
        elif kind == "cmp":
            self.comparison(node, flag)
        elif kind == "not":
            self.expr(node.left, flag ^ 1)  # type: ignore[arg-type]
        elif kind == "istruth":
            self.expr(node.left, flag ^ node.negated ^ node.is_false)  # type: ignore[arg-type]
        elif kind == "cmpsub":
            self.comparison(node, flag)
            inner_flag = flag ^ 1 if node.quantifier == "ALL" else flag
            self.query(self.parser.subquery(node.group), inner_flag)
        elif kind == "in_list":
            close = node.op
            self.add("FixMInNullU", flag ^ node.negated, "IN", close, close, ",NULL")
        elif kind == "in_sub":
            self.query(self.parser.subquery(node.group), flag ^ node.negated)
        elif kind == "like":
            self.pattern_points(node, flag ^ node.negated, ("RdMLikeU", "RdMLikeL"), "LIKE")
        elif kind == "regexp":
            self.pattern_points(node, flag ^ node.negated, ("RdMRegExpU", "RdMRegExpL"), "REGEXP")
        # xor, nullsafe, isnull, between: opaque to PINOLO's visitor

    def comparison(self, node: Expr, flag: int) -> None:
        op = node.op
        key = self.tokens.keys[op]
        if key in CMP_UPPER:
            self.add("FixMCmpOpU", flag, "COMPARISON", op, op + 1, CMP_UPPER[key])
        elif key in CMP_LOWER:
            self.add("FixMCmpOpL", flag, "COMPARISON", op, op + 1, CMP_LOWER[key])

    def pattern_points(self, node: Expr, flag: int, names: tuple[str, str], label: str) -> None:
        left, right = node.left, node.right
        if not (_is_string_literal(left) and _is_string_literal(right)):
            return
        keys = self.tokens.keys
        # The pattern is one literal, optionally after a charset introducer.
        if right.last - right.first == 2 and keys[right.first][:1] == "_":  # type: ignore[union-attr]
            value_token = right.first + 1  # type: ignore[union-attr]
        elif right.last - right.first == 1:  # type: ignore[union-attr]
            value_token = right.first  # type: ignore[union-attr]
        else:
            return
        pattern = keys[value_token][1:]
        upper, lower = names
        if label == "LIKE":
            if pattern.replace("%", ""):
                self.add(upper, flag, label, right.first, right.last, None, pattern)  # type: ignore[union-attr]
            if "%" in pattern:
                self.add(lower, flag, label, right.first, right.last, None, pattern)  # type: ignore[union-attr]
        else:
            self.add(upper, flag, label, right.first, right.last, None, pattern)  # type: ignore[union-attr]
            self.add(lower, flag, label, right.first, right.last, None, pattern)  # type: ignore[union-attr]


def _is_string_literal(node: Expr | None) -> bool:
    return node is not None and node.kind == "opaque" and node.plain and node.bangs == 0 and (
        node.primary == "string"
    )


def walk_queries(parser: Parser, query: Query) -> list[Query]:
    """Every query block the visitor reaches, in visiting order (lazy groups get parsed on the way)."""
    visitor = _Visitor(parser)
    visitor.reached = []
    visitor.query(query, 1)
    return visitor.reached


@dataclass(frozen=True, slots=True)
class Analysis:
    """A parsed query and all its mutation points; cached, because one original has many mutants."""

    tokens: Tokens
    candidates: tuple[Candidate, ...]
    # The candidates of each strategy, in discovery order: the judge looks up one strategy per pair.
    by_strategy: dict[str, tuple[Candidate, ...]] = field(default_factory=dict, compare=False, repr=False)
    # `tokens.first_long_look` of the text, kept for the judge's `keys_after_edit` of each of its mutants.
    long_look: int | None = field(default=None, compare=False, repr=False)


@lru_cache(maxsize=4096)
def analyse(sql: str) -> Analysis:
    """Tokens and candidates of `sql`; raises SqlSyntaxError if it is not one readable SELECT/WITH."""
    parser, query = parse(sql)
    visitor = _Visitor(parser)
    visitor.query(query, 1)
    by_strategy: dict[str, list[Candidate]] = {}
    for candidate in visitor.found:
        by_strategy.setdefault(candidate.strategy, []).append(candidate)
    return Analysis(parser.tokens, tuple(visitor.found),
                    {name: tuple(found) for name, found in by_strategy.items()}, first_long_look(sql))


def candidates(sql: str, strategy: str | None = None) -> list[Candidate]:
    """Every mutation point of `sql` in PINOLO's discovery order, optionally for one strategy only.

    Raises SqlSyntaxError if `sql` is not a single SELECT/WITH statement we can read.
    """
    found = analyse(sql).candidates
    if strategy is None:
        return list(found)
    require_strategy(strategy)
    return [candidate for candidate in found if candidate.strategy == strategy]


def render_pattern(pattern: str) -> str:
    """A rewritten pattern is a fresh literal: single-quoted, `'` doubled, and without charset introducer."""
    return "'" + pattern.replace("'", "''") + "'"


def apply_candidate(sql: str, candidate: Candidate, seed: int | None = None) -> Mutation:
    """The mutated query for one candidate; RdM* candidates draw from a fresh RNG seeded with `seed`."""
    if candidate.replacement is None:
        rng = random.Random(0 if seed is None else seed)
        replacement = render_pattern(mutate_pattern(candidate.strategy, candidate.pattern or "", rng))
    else:
        replacement = candidate.replacement
    mutated = sql[: candidate.start] + replacement + sql[candidate.end :]
    return Mutation(candidate.strategy, mutated, candidate.is_upper, candidate.node, candidate.start,
                    candidate.end, replacement)


def apply(sql: str, strategy: str, seed: int | None = None) -> list[Mutation]:
    """One mutated query per candidate of `strategy`, in discovery order.

    Like PINOLO, every candidate of the same query gets a fresh RNG with the same seed (task seed + sqlId
    in PINOLO). `seed=None` means 0, so results are reproducible. The RNG is Python's, not Go's
    math/rand: the drawn patterns follow the same rules but not Go's exact sequence.
    """
    require_strategy(strategy)
    return [apply_candidate(sql, candidate, seed) for candidate in candidates(sql, strategy)]
