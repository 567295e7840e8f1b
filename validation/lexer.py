"""SQL text read the way the MariaDB/MySQL server lexer reads it (sql/sql_lex.cc), refusing what it could misread.

Everything the guard and the data-SQL check decide rests on one question: where do string literals, quoted
identifiers and comments begin and end? Answer it differently from the server and a keyword hidden "inside a
string" or "inside a comment" runs. So this module reads exactly the server's rules, for the session settings
the runner pins (sql_mode without ANSI_QUOTES and NO_BACKSLASH_ESCAPES, a utf8mb4 connection):

* `'…'` and `"…"` are string literals, with backslash escapes (`\\x` is two characters, whatever x is) and
  doubled quotes; `` `…` `` is an identifier with doubled backquotes; no other quoting exists.
* `/* … */` is a comment ending at the first `*/` (no nesting). `/*!…*/` and `/*M!…*/` are *executable*: the
  server runs their content, so they are refused. So is `/*+…*/`: MariaDB skips it, MySQL 8 reads optimizer
  hints in it (MAX_EXECUTION_TIME, SET_VAR), so the servers differ.
* `#` and `-- ` (two dashes and a space) start a comment that ends at the line feed.

Where the servers could read a text differently, or where a reader other than the server could (a log viewer,
another lexer), the text is refused rather than guessed at:

* `--` followed by anything but a space or a printable ASCII character (a TAB, a line break, a control
  character, a no-break space, the end of the text): MariaDB and MySQL start a comment at `--` followed by
  any whitespace *or control character* (`--\\x01` hides the rest of the line), and what counts as whitespace
  depends on the connection's character set (U+00A0 is whitespace in latin1).
* a control character other than TAB, LF and CR (NUL, U+0001…, U+007F, the C1 range) anywhere but inside a
  string literal; NUL even there (the server ends a `#` comment at NUL, and C strings end at it).
* non-ASCII whitespace or an invisible character (U+00A0, U+2028, U+FEFF…) outside string literals and
  backquoted identifiers (the server reads U+00A0 as part of a name on a utf8mb4 connection, as a space on a
  latin1 one).
* a `-- ` or `#` comment holding a lone CR or another line break than LF (readers disagree on where the line
  ends); a backslash outside a literal other than `\\N` (the server's `\\` token swallows the next character);
  a number such as `1.5e-x` whose exponent has no digit (the server then returns a one-character token and
  drops the rest of the number, so what follows, `'` or `-- `, is read differently).
* an unterminated string, identifier or comment: reading stops there, at the first one.

Cost: texts are refused above a size limit before being read, and every pattern below is written with
possessive quantifiers over disjoint alternatives, so each character is examined a bounded number of times
and the first unterminated literal ends the reading: time is linear in the length of the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "MAX_STATEMENT_CHARS",
    "LexError",
    "Token",
    "tokens",
]

# The guard refuses longer statements unread (PINOLO statements are a few KB; MariaDB's default packet is 16 MB).
MAX_STATEMENT_CHARS = 1 << 20

# Characters refused outside string literals: controls but TAB, LF, CR; the C1 range; non-ASCII whitespace and
# invisible characters. The non-ASCII ones are allowed inside backquoted identifiers, the controls are not.
# (Regex class fragments, in raw strings: the regex engine reads the escapes.)
ODD_CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
ODD_NON_ASCII = r"\xa0\u1680\u180e\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff"
ODD = ODD_CONTROLS + ODD_NON_ASCII
# Name characters as the server reads them on a utf8mb4 connection (ASCII letters, digits, `_`, `$` and every
# non-ASCII character), less the odd ones: everything but ASCII punctuation, spaces and controls.
WORD = r"[^\x00-\x23\x25-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x9f" + ODD_NON_ASCII + "]"

# Token bodies, shared with the guard's fast path so that both read literals identically.
# Written "unrolled" (a run of ordinary characters, then one special sequence, repeated), possessively: the
# regex engine takes each run at once and never backtracks into it.
SINGLE_QUOTED = r"'[^'\\\x00]*+(?:(?:\\[^\x00]|'')[^'\\\x00]*+)*+'"
DOUBLE_QUOTED = r'"[^"\\\x00]*+(?:(?:\\[^\x00]|"")[^"\\\x00]*+)*+"'
QUOTED_IDENTIFIER = r"`[^`" + ODD_CONTROLS + r"]*+(?:``[^`" + ODD_CONTROLS + r"]*+)*+`"
BLOCK_COMMENT = r"/\*(?![!+]|M!)[^*" + ODD + r"]*+(?:\*(?!/)[^*" + ODD + r"]*+)*+\*/"
HASH_COMMENT = r"\#[^\n\r" + ODD + r"]*+(?=\r?\n|\Z)"
DASH_COMMENT = r"--\x20[^\n\r" + ODD + r"]*+(?=\r?\n|\Z)"
# `--` that is neither a comment (`-- `) nor two minus signs before a printable character.
AMBIGUOUS_DASHES = r"--(?![!-~])"
# A number whose exponent lacks its digit: `1.5e-x`, `.5e`, `1.e+'` (see the module docstring).
MALFORMED_NUMBER = r"(?:(?<!" + WORD + r")\d++\.\d*+|\.\d++)[eE][+-]?+(?!\d)"

_TOKEN = re.compile(
    r"(?P<space>[\x20\t\r\n]++)"
    r"|(?P<comment>" + BLOCK_COMMENT + "|" + HASH_COMMENT + "|" + DASH_COMMENT + ")"
    r"|(?P<string>" + SINGLE_QUOTED + "|" + DOUBLE_QUOTED + ")"
    r"|(?P<quoted>" + QUOTED_IDENTIFIER + ")"
    r"|(?P<malformed_number>" + MALFORMED_NUMBER + ")"
    r"|(?P<number>(?:\d++(?:\.\d*+)?+|\.\d++)(?:[eE][+-]?+\d++)?+(?!" + WORD + "))"
    r"|(?P<word>" + WORD + "++)"
    r"|(?P<executable>/\*(?:M?!|\+))"
    r"|(?P<broken>['\"`#]|/\*)"
    r"|(?P<ambiguous_dashes>" + AMBIGUOUS_DASHES + ")"
    r"|(?P<punct>:=|\\N|[-+*/%<>=!~^&|(),.;:@?{}\[\]])"
    r"|(?P<odd>[\s\S])"
)

_OPENERS = {"'": "string literal", '"': "string literal", "`": "backquoted identifier", "/*": "/* comment"}
_BODY_AFTER = {
    "'": re.compile(SINGLE_QUOTED[1:-1]),
    '"': re.compile(DOUBLE_QUOTED[1:-1]),
    "`": re.compile(QUOTED_IDENTIFIER[1:-1]),
    "/*": re.compile(BLOCK_COMMENT[len("/\\*(?![!+]|M!)"):-len("\\*/")]),
    "#": re.compile(r"[^\n\r" + ODD + r"]*+"),
    "-- ": re.compile(r"[^\n\r" + ODD + r"]*+"),
}


@dataclass(frozen=True, slots=True)
class Token:
    """A significant token: kind is word, number, string, quoted (backquoted identifier) or punct."""

    kind: str
    text: str
    start: int
    end: int


class LexError(ValueError):
    """The text cannot be read safely: `reason` says why, `position` where (a character offset)."""

    def __init__(self, reason: str, position: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.position = position


_SIGNIFICANT = frozenset(("word", "number", "string", "quoted", "punct"))


def tokens(text: str) -> Iterator[Token]:
    """The significant tokens of `text` (spaces and comments skipped), in order; raise LexError at the first
    place the text cannot be read exactly as the server reads it (the tokens before it have been yielded)."""
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind in _SIGNIFICANT:
            yield Token(kind, match.group(), match.start(), match.end())
        elif kind != "space" and kind != "comment":
            raise LexError(_refusal(text, kind, match.group(), match.start()), match.start())


def _refusal(text: str, kind: str, found: str, position: int) -> str:
    if kind == "executable":
        if found == "/*+":
            return f"optimizer hint comment '/*+' at char {position} (MySQL reads hints in it, MariaDB does not)"
        return f"executable comment {found!r} at char {position}"
    if kind == "malformed_number":
        return f"number {found!r} without exponent digits at char {position} (the server reads what follows differently)"
    if kind == "ambiguous_dashes":
        after = position + 2
        if after == len(text):
            return f"'--' at the end of the text (char {position}): only '-- ' with a space is read as a comment here"
        if text[after] != " ":
            return (f"'--' followed by {_describe(text[after])} at char {position}: "
                    "only '-- ' with a space is read as a comment here")
        found = "-- "  # a `-- ` comment whose line does not end cleanly
    elif kind == "odd":
        return _odd_refusal(text[position], position)
    # An opener whose token did not match: find where its body stops, and why.
    stop = _BODY_AFTER[found].match(text, position + len(found)).end()
    if found in ("#", "-- "):
        if text[stop] == "\r":
            return f"carriage return without a line feed in a comment at char {stop}"
        return _odd_refusal(text[stop], stop)
    if stop < len(text) and text[stop] == "\\":  # a backslash at the end, or before a NUL
        stop += 1
    if stop >= len(text):
        return f"unterminated {_OPENERS[found]} at char {position}"
    return _odd_refusal(text[stop], stop)


def _odd_refusal(character: str, position: int) -> str:
    if character == "\x00":
        return f"NUL character at char {position}"
    if character == "\\":
        return f"backslash outside a string literal at char {position}"
    if ord(character) < 0x20 or 0x7F <= ord(character) <= 0x9F:
        return f"control character {_describe(character)} outside a string literal at char {position}"
    return f"non-ASCII whitespace or invisible character {_describe(character)} outside a literal at char {position}"


def _describe(character: str) -> str:
    return repr(character) if "!" <= character <= "~" else f"U+{ord(character):04X}"
