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
