"""MySQL-dialect tokenizer that keeps exact character positions.

Every token carries a normalised *key* used both by the parser and by `check`'s token-stream comparison:

* keywords and bare words: upper-cased (keyword case never matters);
* backquoted identifiers: a leading backquote plus the exact name (identifiers matter, quoting style does not
  collide with keywords);
* string literals: a leading single quote plus the decoded text (`'a'` and `"a"` are the same literal);
* numbers: their exact text; operators: their text, with `<>` folded into `!=`, `&&` into AND, `||` into OR.

The key spaces cannot collide, so the parser can test `keys[i] == "SELECT"` without a separate kind check.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from itertools import accumulate, chain
from dataclasses import dataclass

from .errors import SqlSyntaxError

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>(?:\s+|--(?:[ \t][^\n]*)?(?=\n|$)|\#[^\n]*|/\*.*?\*/)+)
  | (?P<ident>`(?:[^`]|``)*`)
  | (?P<sq>'(?:[^'\\]|\\.|'')*')
  | (?P<dq>"(?:[^"\\]|\\.|"")*")
  | (?P<number>0[xX][0-9A-Fa-f]+\b|0[bB][01]+\b|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<word>[A-Za-z_$\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*)
  | (?P<var>@@?(?:[A-Za-z0-9_.$]+|`(?:[^`]|``)*`|'(?:[^'\\]|\\.)*'))
  | (?P<op><=>|<=|>=|<>|!=|<<|>>|&&|\|\||:=|->>|->|[-+*/%^&|~!=<>(),.;?{}])
    """,
    re.VERBOSE | re.DOTALL,
)

_OP_KEYS = {"<>": "!=", "&&": "AND", "||": "OR"}

# `_TOKEN_RE` with the whitespace folded into each match as an uncaptured prefix, a `bad` alternative that
# takes any character nothing else reads, and `\Z` for trailing whitespace: `finditer` then yields exactly
# one match per token of `_TOKEN_RE`'s scan, in order, without a Python-level call per match. The prefix
# stops where `_TOKEN_RE`'s `ws` match stops (the same greedy loop, never backtracked into, because `bad`
# or `\Z` always matches after it). The token alternatives are `_TOKEN_RE`'s, the most frequent first: the
# order does not change what matches, because no two alternatives can start with the same character except
# `number` and `op` on `.`, and `number` still comes first.
_ALTERNATIVES = dict(re.findall(r"\(\?P<(\w+)>(.*?)\)\n", _TOKEN_RE.pattern))
_FAST_ORDER = ("word", "ident", "number", "op", "sq", "dq", "var")
# The same languages, written so that the regex engine does less per character (the scan's main cost):
# * the whitespace loop `(?:\s+|comment)+` as `\s*+(?:comment\s*+)*+`: the same greedy path, and possessive,
#   which is safe because the prefix is never backtracked into (see above);
# * quoted literals and identifiers "unrolled" (`'[^'\\]*(?:(?:\\.|'')[^'\\]*)*'` for `'(?:[^'\\]|\\.|'')*'`):
#   the units of the loop start with distinct characters, so both forms split the text into the same units
#   and end at the same last unit boundary followed by the closing quote;
# * the operators that begin no longer operator tried first as one class (the two classes together are
#   `_TOKEN_RE`'s class, and every multi-character operator still precedes its own first character).
_COMMENT = r"--(?:[ \t][^\n]*)?(?=\n|$)|\#[^\n]*|/\*.*?\*/"
assert _ALTERNATIVES["ws"] == r"(?:\s+|" + _COMMENT + ")+"
_WS_PREFIX = r"\s*+(?:(?:" + _COMMENT + r")\s*+)*+"
_SCAN_ALTERNATIVES = dict(
    _ALTERNATIVES,
    ident=r"`[^`]*(?:``[^`]*)*`",
    sq=r"'[^'\\]*(?:(?:\\.|'')[^'\\]*)*'",
    dq=r'"[^"\\]*(?:(?:\\.|"")[^"\\]*)*"',
    op=r"[(),.;?{}~^%*+/]|<=>|<=|>=|<>|!=|<<|>>|&&|\|\||:=|->>|->|[-&|!=<>]",
)
_FAST_TOKEN_RE = re.compile(
    _WS_PREFIX + "(?:"
    + "|".join(f"(?P<{name}>{_SCAN_ALTERNATIVES[name]})" for name in _FAST_ORDER)
    + "|(?P<bad>.)|\\Z)",
    re.DOTALL,
)
# `_FAST_TOKEN_RE` for `findall`: (whitespace before the token, the token's text) per token, the token being
# any of the alternatives or the `bad` character, then one or two pairs with an empty token at the end (the
# `\Z` match, and an empty match after a non-empty one that ends the text).
_PAIR_RE = re.compile(
    "(" + _WS_PREFIX + ")(?:(" + "|".join(_SCAN_ALTERNATIVES[name] for name in _FAST_ORDER) + "|.)|\\Z)",
    re.DOTALL,
)
# A token's text alone, classified: `fullmatch` picks the alternative the scan picked at the token's place,
# because a token's first character decides its alternative (only `number` and `op` share one, `.`, and a
# text that is a whole number was read as one), and a `bad` character is no whole token of any alternative.
_KIND_RE = re.compile("|".join(f"(?P<{name}>{_ALTERNATIVES[name]})" for name in _FAST_ORDER), re.DOTALL)


class _NotAToken(Exception):
    """A text that no token alternative reads whole: the scan met a `bad` character."""


class _KeyCache(dict[str, str]):
    """token text -> key. A query's texts repeat (keywords, column names, operators) and so do they across
    queries, so most keys are one dictionary look-up: `map(cache.__getitem__, texts)` runs without a
    Python-level call per token."""

    def __missing__(self, text: str) -> str:
        found = _KIND_RE.fullmatch(text)
        if found is None:
            raise _NotAToken(text)
        key = _key(found.lastgroup, text)  # type: ignore[arg-type]
        if len(self) >= _KEY_CACHE_SIZE:
            self.clear()  # a bound on memory; a cleared entry is simply computed again
        self[text] = key
        return key


def _key(kind: str, text: str) -> str:
    """The key of a token of `kind` whose text is `text` (see the module docstring)."""
    if kind == "word":
        return text.upper()
    if kind == "op":
        return _OP_KEYS.get(text, text)
    if kind == "ident":
        return "`" + text[1:-1].replace("``", "`")
    if kind == "sq":
        return "'" + text[1:-1].replace("''", "'")
    if kind == "dq":
        return "'" + text[1:-1].replace('""', '"')
    return text


_KEY_CACHE_SIZE = 200_000
_KEYS = _KeyCache()


@dataclass(slots=True)
class Tokens:
    """A tokenized SQL text: parallel lists, because the parser and `check` index them in hot loops."""

    sql: str
    keys: list[str]
    starts: list[int]
    ends: list[int]

    def __len__(self) -> int:
        return len(self.keys)

    def text(self, first: int, last: int) -> str:
        """Original text from token `first` to token `last` (exclusive), or '' for an empty range."""
        if last <= first:
            return ""
        return self.sql[self.starts[first] : self.ends[last - 1]]


def tokenize(sql: str) -> Tokens:
    """Split `sql` into tokens; raise SqlSyntaxError on an unterminated literal or a stray character."""
    pairs = _PAIR_RE.findall(sql)
    while pairs and not pairs[-1][1]:
        pairs.pop()  # the end-of-text matches
    # (whitespace, token) texts laid end to end are the whole text up to the last token, so the running
    # sum of their lengths gives each token's start (after its whitespace) and end.
    texts = list(chain.from_iterable(pairs))
    bounds = list(accumulate(map(len, texts)))
    try:
        keys = list(map(_KEYS.__getitem__, texts[1::2]))
    except _NotAToken:
        return _tokenize_by_matches(sql)  # raises the error for the first bad character
    return Tokens(sql, keys, bounds[0::2], bounds[1::2])


def _tokenize_by_matches(sql: str) -> Tokens:
    """`tokenize` with one Python step per `_FAST_TOKEN_RE` match (the error path needs the bad position)."""
    keys: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for found in _FAST_TOKEN_RE.finditer(sql):
        key = _match_key(found, sql)
        if key is None:
            continue  # trailing whitespace
        keys.append(key)
        starts.append(found.start(found.lastindex))
        ends.append(found.end())
    return Tokens(sql, keys, starts, ends)


def _match_key(found: re.Match[str], sql: str) -> str | None:
    """The key of one `_FAST_TOKEN_RE` match (None for the end-of-text match); raises on a `bad` character."""
    name = found.lastgroup
    if name is None:
        return None
    if name == "bad":
        _raise_bad_character(sql, found.start(name))
    return _KEYS[found[name]]


def tokenize_by_steps(sql: str) -> Tokens:
    """`tokenize`, one `_TOKEN_RE` match at a time: the reference the one-pass `tokenize` must equal."""
    keys: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    position = 0
    length = len(sql)
    match = _TOKEN_RE.match
    while position < length:
        found = match(sql, position)
        if found is None:
            _raise_bad_character(sql, position)
        kind = found.lastgroup
        end = found.end()
        if kind != "ws":
            text = found.group()
            if kind == "word":
                key = text.upper()
            elif kind == "op":
                key = _OP_KEYS.get(text, text)
            elif kind == "ident":
                key = "`" + text[1:-1].replace("``", "`")
            elif kind == "sq":
                key = "'" + text[1:-1].replace("''", "'")
            elif kind == "dq":
                key = "'" + text[1:-1].replace('""', '"')
            else:
                key = text
            keys.append(key)
            starts.append(position)
            ends.append(end)
        position = end
    return Tokens(sql, keys, starts, ends)


def _raise_bad_character(sql: str, position: int) -> None:
    char = sql[position]
    if char in "'\"":
        raise SqlSyntaxError("unterminated string literal", sql, position)
    if char == "`":
        raise SqlSyntaxError("unterminated backquoted identifier", sql, position)
    if sql.startswith("/*", position):
        raise SqlSyntaxError("unterminated /* comment", sql, position)
    raise SqlSyntaxError(f"unexpected character {char!r}", sql, position)


# Where a scan of the unchanged head of a text could have looked past a token's end: an unterminated `/*`
# makes the whitespace alternative read to the end of the text; a literal or identifier directly followed by
# its own quote character may have been found by backtracking from further on; `0x`/`0b` followed by more
# word characters than the hex/binary alternative accepts is read to the end of that word before the number
# alternative settles for `0`. Before the first of these, a match examines at most HEAD_LOOKAHEAD characters
# past its end (`\b`, `(?=\n|$)`, `1e+`, `<=>`, `--x`).
_LONG_LOOKS = ("/*", "''", '""', "``", "0x", "0X", "0b", "0B")
HEAD_LOOKAHEAD = 3


# One search for all of `_LONG_LOOKS`: the leftmost match is the leftmost marker.
_LONG_LOOK_RE = re.compile("|".join(re.escape(marker) for marker in _LONG_LOOKS))


def first_long_look(sql: str) -> int:
    """Where the first of `_LONG_LOOKS` starts in `sql`, or len(sql) when none does."""
    found = _LONG_LOOK_RE.search(sql)
    return len(sql) if found is None else found.start()


def keys_after_edit(base: Tokens, sql: str, long_look: int | None = None) -> tuple[list[str], int, int]:
    """`tokenize(sql).keys` for a text that is `base.sql` with one region rewritten, rescanning only that region.

    `long_look` is `first_long_look(base.sql)` when the caller keeps it. Returns (keys, head, tail): the first `head` and the last `tail` keys are `base`'s own. Raises
    SqlSyntaxError when the rescanned region does not tokenize (then `tokenize(sql)` raises too).

    Why the result equals a full tokenization: a match at position p depends only on the text from p on, so
    (1) `base`'s tokens that end well before the first changed character (and before any place where a match
    may look far ahead, see `_LONG_LOOKS`) are matched identically in `sql`; (2) once the rescan reaches a
    position q after the last changed character, where `sql[q:]` equals `base.sql[q + shift:]`, and
    q + shift is a position where `base`'s own scan started a match, every later match is `base`'s, shifted.
    """
    old = base.sql
    old_length, new_length = len(old), len(sql)
    limit = min(old_length, new_length)
    same = _common_prefix_length(old, sql, limit)
    common_tail = _common_suffix_length(old, sql, limit - same)
    safe = min(same, first_long_look(old) if long_look is None else long_look)
    keys, ends = base.keys, base.ends
    head = bisect_right(ends, safe - HEAD_LOOKAHEAD)  # tokens with ends[j] + HEAD_LOOKAHEAD <= safe
    position = ends[head - 1] if head else 0
    changed_end = new_length - common_tail  # sql[changed_end:] == old[changed_end + shift:]
    shift = old_length - new_length
    count = len(keys)
    new_keys: list[str] = []
    add_key = new_keys.append
    if position < changed_end or (synced := _synced(base, position + shift)) is None:
        # `_FAST_TOKEN_RE` matches one token (with the whitespace before it) per step, from a position where
        # a match of the full scan begins; each token's end is such a position too.
        for found in _FAST_TOKEN_RE.finditer(sql, position):
            key = _match_key(found, sql)
            if key is not None:
                add_key(key)
            position = found.end()
            if position >= changed_end and (synced := _synced(base, position + shift)) is not None:
                break
        else:  # pragma: no cover - the scan always ends at len(sql), which is in sync with len(base.sql)
            raise AssertionError("keys_after_edit lost sync")
    return keys[:head] + new_keys + keys[synced:], head, count - synced


def _synced(base: Tokens, position: int) -> int | None:
    """The index of `base`'s first token at or after `position` if its scan began a match there, else None."""
    starts = base.starts
    index = bisect_left(starts, position)
    if position == len(base.sql) or (index < len(starts) and starts[index] == position) or (
            index and base.ends[index - 1] == position):
        return index
    return None


def _common_prefix_length(a: str, b: str, limit: int) -> int:
    """Length of the common prefix of a[:limit] and b[:limit], by halving (each comparison runs in C)."""
    low, high = 0, limit
    while low < high:
        middle = (low + high + 1) // 2
        if a[low:middle] == b[low:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _common_suffix_length(a: str, b: str, limit: int) -> int:
    """Length of the common suffix of `a` and `b`, at most `limit`."""
    low, high = 0, limit
    length_a, length_b = len(a), len(b)
    while low < high:
        middle = (low + high + 1) // 2
        if a[length_a - middle : length_a - low] == b[length_b - middle : length_b - low]:
            low = middle
        else:
            high = middle - 1
    return low
