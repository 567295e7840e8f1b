"""PINOLO's `sqlsim` simplification passes (reference §7.4), as text edits on both SQLs of a bug.

PINOLO keeps a pass only if the bug still reproduces on the server. Without a server we keep the purely
syntactic passes (frmWith, rmUnion, frmHint, rmOrderBy, frmCharset) whenever they leave a real mutation,
which is what they do on impo.yy queries; the three function renames change semantics, so they are opt-in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .engine import walk_queries
from .errors import SqlSyntaxError
from .parser import ParenQuery, Query, Select, SetOp, parse
from .tokens import Tokens, tokenize

FUNCTION_RENAMES = (
    ("frmTimeFunc", "TO_SECONDS", "UNIX_TIMESTAMP"),
    ("frmStrFunc", "TO_BASE64", "OCT"),
    ("frmInfoFunc", "FORMAT_BYTES", "CHARSET"),
)


def _edit(sql: str, edits: Iterable[tuple[int, int, str]]) -> str:
    pieces: list[str] = []
    cursor = 0
    for start, end, replacement in sorted(edits):
        pieces.append(sql[cursor:start])
        pieces.append(replacement)
        cursor = end
    pieces.append(sql[cursor:])
    return "".join(pieces)


def _unwrap(tokens: Tokens, query: Query) -> str:
    """Text of a query, without the parentheses of a parenthesised element."""
    while isinstance(query, ParenQuery) and query.with_ is None and query.order_by is None and query.limit is None:
        query = query.inner
    return tokens.text(query.first, query.last)


def frm_with(sql: str) -> str | None:
    """A root SELECT with exactly one non-recursive CTE becomes that CTE's body."""
    parser, root = parse(sql)
    if not isinstance(root, Select) or root.with_ is None:
        return None
    with_ = root.with_
    if with_.recursive or len(with_.ctes) != 1:
        return None
    return _unwrap(parser.tokens, with_.ctes[0].body)


def union_elements(sql: str) -> list[str] | None:
    """The texts of the two elements of a two-element UNION root, else None."""
    parser, root = parse(sql)
    if not isinstance(root, SetOp) or len(root.elements) != 2:
        return None
    return [_unwrap(parser.tokens, element) for element in root.elements]


def frm_hint(sql: str) -> str:
    """Drop every index hint (`USE INDEX (…)`, `IGNORE KEY (…)`, …) together with the space before it."""
    tokens = tokenize(sql)
    keys = tokens.keys
    edits = []
    index = 0
    count = len(keys)
    while index < count:
        if keys[index] in ("USE", "IGNORE", "FORCE") and index + 1 < count and keys[index + 1] in ("INDEX", "KEY"):
            close = index + 2
            while close < count and keys[close] != "(":
                close += 1
            depth = 0
            while close < count:
                if keys[close] == "(":
                    depth += 1
                elif keys[close] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                close += 1
            start = tokens.ends[index - 1] if index else tokens.starts[index]
            edits.append((start, tokens.ends[min(close, count - 1)], ""))
            index = close + 1
            continue
        index += 1
    return _edit(sql, edits)


def rm_order_by(sql: str) -> str:
    """Drop the ORDER BY of every SELECT the visitor reaches; a union-level ORDER BY stays."""
    parser, root = parse(sql)
    tokens = parser.tokens
    edits = []
    for query in walk_queries(parser, root):
        if isinstance(query, Select) and query.order_by is not None:
            first, last = query.order_by
            edits.append((tokens.ends[first - 1], tokens.ends[last - 1], ""))
    return _edit(sql, edits)


def frm_charset(sql: str) -> str:
    """`_UTF8MB4'x'` becomes `'x'` everywhere."""
    tokens = tokenize(sql)
    keys = tokens.keys
    edits = [
        (tokens.starts[index], tokens.starts[index + 1], "")
        for index in range(len(keys) - 1)
        if keys[index][:1] == "_" and keys[index + 1][:1] == "'"
    ]
    return _edit(sql, edits)


def rename_function(sql: str, old: str, new: str) -> str:
    tokens = tokenize(sql)
    keys = tokens.keys
    edits = [
        (tokens.starts[index], tokens.ends[index], new)
        for index in range(len(keys) - 1)
        if keys[index] == old and keys[index + 1] == "("
    ]
    return _edit(sql, edits)


def _both(original: str, mutated: str, transform: Callable[[str], str]) -> tuple[str, str]:
    return transform(original), transform(mutated)


def simplify_with_passes(original: str, mutated: str, rename_functions: bool = False) -> tuple[str, str, list[str]]:
    """Apply the passes in PINOLO's order; return both SQLs and the names of the passes that changed them.

    A pass is kept only if the two SQLs still differ afterwards (PINOLO's stand-in: the bug still shows).
    Raises SqlSyntaxError if either SQL cannot be read.
    """
    applied: list[str] = []

    def keep(name: str, new_original: str | None, new_mutated: str | None) -> None:
        nonlocal original, mutated
        if new_original is None or new_mutated is None or new_original == new_mutated:
            return
        if (new_original, new_mutated) != (original, mutated):
            original, mutated = new_original, new_mutated
            applied.append(name)

    keep("frmWith", frm_with(original), frm_with(mutated))
    original_elements, mutated_elements = union_elements(original), union_elements(mutated)
    if original_elements is not None and mutated_elements is not None:
        for position in (0, 1):
            if original_elements[position] != mutated_elements[position]:
                keep("rmUnion", original_elements[position], mutated_elements[position])
                break
    keep("frmHint", *_both(original, mutated, frm_hint))
    keep("rmOrderBy", *_both(original, mutated, rm_order_by))
    if rename_functions:
        for name, old, new in FUNCTION_RENAMES:
            keep(name, rename_function(original, old, new), rename_function(mutated, old, new))
    keep("frmCharset", *_both(original, mutated, frm_charset))
    return original, mutated, applied


def simplify(original: str, mutated: str, rename_functions: bool = False) -> tuple[str, str]:
    """PINOLO's syntactic sqlsim passes applied to both SQLs of a pair."""
    simple_original, simple_mutated, _ = simplify_with_passes(original, mutated, rename_functions)
    return simple_original, simple_mutated


__all__ = ["SqlSyntaxError", "simplify", "simplify_with_passes"]
