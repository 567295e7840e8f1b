"""PINOLO's `sqlsim` simplification passes (reference §7.4), as text edits on both SQLs of a bug.

PINOLO keeps a pass only if the bug still reproduces on the server. Without a server we keep the purely
syntactic passes (frmWith, rmUnion, frmHint, rmOrderBy, frmCharset) whenever the two SQLs still differ
afterwards, which is what happens on impo.yy queries; the three function renames change semantics, so
they are opt-in.

Each SQL is parsed once: every pass is planned on that parse as character spans (the part of the text that
survives frmWith/rmUnion, and the spans that frmHint/rmOrderBy/frmCharset delete), and the passes are then
applied in PINOLO's order by rendering the kept spans.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .engine import walk_queries
from .parser import ParenQuery, Parser, Query, Select, SetOp, parse

FUNCTION_RENAMES = (
    ("frmTimeFunc", "TO_SECONDS", "UNIX_TIMESTAMP"),
    ("frmStrFunc", "TO_BASE64", "OCT"),
    ("frmInfoFunc", "FORMAT_BYTES", "CHARSET"),
)

Edit = tuple[int, int, str]


@dataclass(slots=True)
class _Plan:
    """Where each pass would cut one SQL, computed from a single parse."""

    sql: str
    parser: Parser
    root: Query
    hint_edits: list[Edit] = field(default_factory=list)
    order_edits: list[Edit] = field(default_factory=list)
    charset_edits: list[Edit] = field(default_factory=list)
    rename_edits: dict[str, list[Edit]] = field(default_factory=dict)

    def span(self, query: Query) -> tuple[int, int]:
        tokens = self.parser.tokens
        return tokens.starts[query.first], tokens.ends[query.last - 1]


def _unwrap(query: Query) -> Query:
    """A parenthesised element stands for its inner query (PINOLO re-renders the element alone)."""
    while isinstance(query, ParenQuery) and query.with_ is None and query.order_by is None and query.limit is None:
        query = query.inner
    return query


def _plan(sql: str) -> _Plan:
    parser, root = parse(sql)
    plan = _Plan(sql, parser, root)
    tokens = parser.tokens
    keys, starts, ends = tokens.keys, tokens.starts, tokens.ends
    count = len(keys)
    for query in walk_queries(parser, root):
        if isinstance(query, Select) and query.order_by is not None:
            first, last = query.order_by
            plan.order_edits.append((ends[first - 1], ends[last - 1], ""))
    index = 0
    while index < count:
        key = keys[index]
        if key in ("USE", "IGNORE", "FORCE") and index + 1 < count and keys[index + 1] in ("INDEX", "KEY"):
            close = index + 2
            while close < count and keys[close] != "(":
                close += 1
            close = parser.matching[close] if close < count else count - 1
            plan.hint_edits.append((ends[index - 1] if index else starts[index], ends[close], ""))
            index = close + 1
            continue
        if key[:1] == "_" and index + 1 < count and keys[index + 1][:1] == "'":
            plan.charset_edits.append((starts[index], starts[index + 1], ""))
        index += 1
    for name, old, new in FUNCTION_RENAMES:
        plan.rename_edits[name] = [
            (starts[i], ends[i], new) for i in range(count - 1) if keys[i] == old and keys[i + 1] == "("
        ]
    return plan


def _render(sql: str, window: tuple[int, int], edits: list[Edit]) -> str:
    """The text of `window` with the edits inside it applied; an edit inside an earlier one is dropped."""
    start, end = window
    pieces: list[str] = []
    cursor = start
    for edit_start, edit_end, replacement in sorted(edits):
        if edit_start < cursor or edit_start < start or edit_end > end:
            continue
        pieces.append(sql[cursor:edit_start])
        pieces.append(replacement)
        cursor = edit_end
    pieces.append(sql[cursor:end])
    return "".join(pieces)


class _Pair:
    """Both SQLs of a bug, their plans, and the passes kept so far."""

    def __init__(self, original: str, mutated: str) -> None:
        self.plans = (_plan(original), _plan(mutated))
        self.queries: list[Query] = [plan.root for plan in self.plans]
        self.windows = [(0, len(original)), (0, len(mutated))]
        self.edits: list[list[Edit]] = [[], []]
        self.applied: list[str] = []

    def texts(self, windows: list[tuple[int, int]] | None = None, extra: tuple[list[Edit], list[Edit]] = ([], [])) -> tuple[str, str]:
        windows = windows or self.windows
        return tuple(  # type: ignore[return-value]
            _render(plan.sql, windows[side], self.edits[side] + extra[side]) for side, plan in enumerate(self.plans)
        )

    def try_window(self, name: str, queries: list[Query]) -> bool:
        windows = [plan.span(query) for plan, query in zip(self.plans, queries)]
        original, mutated = self.texts(windows)
        if original == mutated:
            return False
        self.windows, self.queries = windows, queries
        self.applied.append(name)
        return True

    def try_edits(self, name: str, edits: tuple[list[Edit], list[Edit]]) -> None:
        if not edits[0] and not edits[1]:
            return
        original, mutated = self.texts(extra=edits)
        if original != mutated and (original, mutated) != self.texts():
            self.edits = [self.edits[side] + edits[side] for side in (0, 1)]
            self.applied.append(name)


def _with_body(query: Query) -> Query | None:
    if not isinstance(query, Select) or query.with_ is None:
        return None
    with_ = query.with_
    if with_.recursive or len(with_.ctes) != 1:
        return None
    return _unwrap(with_.ctes[0].body)


def simplify_with_passes(original: str, mutated: str, rename_functions: bool = False) -> tuple[str, str, list[str]]:
    """Apply the passes in PINOLO's order; return both SQLs and the names of the passes kept.

    A pass is kept only if the two SQLs still differ afterwards (our stand-in for "the bug still shows").
    Raises SqlSyntaxError if either SQL cannot be read.
    """
    pair = _Pair(original, mutated)
    bodies = [_with_body(query) for query in pair.queries]
    if bodies[0] is not None and bodies[1] is not None:
        pair.try_window("frmWith", bodies)  # type: ignore[arg-type]
    roots = pair.queries
    if all(isinstance(root, SetOp) and len(root.elements) == 2 for root in roots):
        for position in (0, 1):
            elements = [_unwrap(root.elements[position]) for root in roots]  # type: ignore[union-attr]
            if pair.try_window("rmUnion", elements):
                break
    pair.try_edits("frmHint", (pair.plans[0].hint_edits, pair.plans[1].hint_edits))
    pair.try_edits("rmOrderBy", (pair.plans[0].order_edits, pair.plans[1].order_edits))
    if rename_functions:
        for name, _, _ in FUNCTION_RENAMES:
            pair.try_edits(name, (pair.plans[0].rename_edits[name], pair.plans[1].rename_edits[name]))
    pair.try_edits("frmCharset", (pair.plans[0].charset_edits, pair.plans[1].charset_edits))
    simple_original, simple_mutated = pair.texts()
    return simple_original, simple_mutated, pair.applied


def simplify(original: str, mutated: str, rename_functions: bool = False) -> tuple[str, str]:
    """PINOLO's syntactic sqlsim passes applied to both SQLs of a pair."""
    simple_original, simple_mutated, _ = simplify_with_passes(original, mutated, rename_functions)
    return simple_original, simple_mutated
