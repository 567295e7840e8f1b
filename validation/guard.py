"""What may be sent to a server: one read-only SELECT/WITH statement, and data SQL of CREATE TABLE + INSERT only.

SQL from PINOLO files is untrusted. `statement_refusal` decides by lexing the text the way MySQL's lexer
does (quoted strings with backslash escapes and doubled quotes, backquoted identifiers, `/* */`, `-- ` and
`#` comments) and then reading the statement's grammar over the tokens: optional opening parentheses, a
`WITH [RECURSIVE] name [(columns)] AS (…)[, …]` list whose body must be a SELECT, then the SELECT itself,
balanced parentheses, and at most one trailing `;`. A keyword inside a string or an identifier never
counts, and a `;` inside a string never splits.

It is a separate lexer from `mutations.tokens` on purpose: the runner classifies every statement it sends,
and the full tokenizer costs about half a statement's round trip on the server, while this one matches
everything that cannot matter (words, numbers, operators, spaces) in bulk inside the regex engine and
hands Python only the few tokens that do. The tests hold the two to the same answers.

The guard is the first of three locks: the connection never enables multi-statements, and the account
can only SELECT from the validation databases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mutations.errors import SqlSyntaxError
from mutations.tokens import tokenize

from .errors import DataSqlError

__all__ = ["DataStatement", "split_data_sql", "statement_refusal"]

_WORD_CHARS = r"\w$\u0080-\uffff"
# Quoted strings (backslash escapes, doubled quotes) and backquoted identifiers, written "unrolled" (runs of
# ordinary characters matched at once) because the per-character form costs twice as much per statement.
_STRING = r"'[^'\\]*(?:(?:\\.|'')[^'\\]*)*'" + "|" + r'"[^"\\]*(?:(?:\\.|"")[^"\\]*)*"'
_IDENTIFIER = r"`[^`]*(?:``[^`]*)*`"
# Keywords the grammar needs; any other word is matched in bulk with the text around it.
_KEYWORDS = r"(?i:SELECT|WITH|RECURSIVE|AS|INTO)(?![" + _WORD_CHARS + r"])"

_LEXER = re.compile(
    r"""
      (?P<string>""" + _STRING + r""")
    | (?P<ident>""" + _IDENTIFIER + r""")
    | (?P<executable>/\*M?!)
    | (?P<comment>/\*.*?\*/|--(?=\s|$)[^\n]*|\#[^\n]*)
    | (?P<keyword>""" + _KEYWORDS + r""")
    | (?P<open>\()
    | (?P<close>\))
    | (?P<comma>,)
    | (?P<semicolon>;)
    | (?P<assign>:=)
    | (?P<unterminated>['"`]|/\*)
    | (?P<other>(?:
          [^'"`/\-\#(),;:""" + _WORD_CHARS + r"""]+
        | (?!""" + _KEYWORDS + r""")[""" + _WORD_CHARS + r"""]+
        | /(?!\*) | -(?!-(?:\s|$)) | :(?!=)
      )+)
    """,
    re.VERBOSE | re.DOTALL,
)

_UNTERMINATED = {"'": "string literal", '"': "string literal", "`": "backquoted identifier", "/*": "/* comment"}


def statement_refusal(sql: str) -> str | None:
    """None when `sql` is exactly one SELECT (or WITH … SELECT) statement, else why it is refused."""
    if _plainly_one_select(_OPAQUE_BLANKED.sub(" _ ", sql)):
        return None
    return _exact_refusal(sql)


# The fast path: strings, backquoted identifiers and ordinary comments become a placeholder word, in C.
# What is left cannot hide a keyword or a `;`, so str methods can decide. Anything unusual (an executable
# comment, an unterminated literal, a comment before the first keyword, a malformed WITH list) is not
# accepted here but handed to `_exact_refusal`, which is the authority and names the position.
_OPAQUE_BLANKED = re.compile(
    _STRING + "|" + _IDENTIFIER + r"|/\*(?!M?!).*?\*/|--(?=\s|$)[^\n]*|\#[^\n]*",
    re.DOTALL,
)
_WITH_NAME = re.compile(r"\s*(?:[" + _WORD_CHARS + r"]+)\s*")
_AS_OPEN = re.compile(r"\s*(?i:AS)\s*\(")
_PARENS = re.compile(r"[()]")
_RECURSIVE = re.compile(r"\s+(?i:RECURSIVE)(?![" + _WORD_CHARS + r"])")
_COMMA = re.compile(r"\s*,")


def _plainly_one_select(blanked: str) -> bool:
    body = blanked.rstrip()
    body = body.removesuffix(";")
    if ";" in body or ":=" in body or "'" in body or '"' in body or "`" in body or "/*" in body:
        return False
    if body.count("(") != body.count(")") or ("INTO" in body.upper() and _INTO.search(body)):
        return False
    head = _HEAD.match(body)
    if head is None:
        return False
    if head.group(1).upper() == "SELECT":
        return True
    return _plain_with_list_then_select(body, head.end())


def _plain_with_list_then_select(body: str, position: int) -> bool:
    found = _RECURSIVE.match(body, position)
    if found:
        position = found.end()
    while True:
        name = _WITH_NAME.match(body, position)
        if name is None:
            return False
        position = name.end()
        if body.startswith("(", position):
            position = _after_parens(body, position)
        as_open = _AS_OPEN.match(body, position)
        if as_open is None:
            return False
        position = _after_parens(body, as_open.end() - 1)
        comma = _COMMA.match(body, position)
        if comma is None:
            break
        position = comma.end()
    head = _HEAD.match(body, position)
    return head is not None and head.group(1).upper() == "SELECT"


def _after_parens(body: str, position: int) -> int:
    depth = 0
    for paren in _PARENS.finditer(body, position):
        depth += 1 if paren.group() == "(" else -1
        if depth == 0:
            return paren.end()
    return len(body)


def _exact_refusal(sql: str) -> str | None:
    masked = _masked(sql)
    if not isinstance(masked, _Masked):
        return masked
    text = masked.text
    body = text.rstrip()
    body = body.removesuffix(";")
    semicolon = body.find(";")
    if semicolon >= 0:
        return f"more than one statement (';' at char {semicolon})"
    into = _INTO.search(body)
    if into:
        return f"SELECT … INTO writes outside the result set (INTO at char {into.start()})"
    assign = body.find(":=")
    if assign >= 0:
        return f"variable assignment ':=' at char {assign}"
    opened, closed = body.count("("), body.count(")")
    if opened != closed:
        return f"unbalanced parentheses: {opened} '(' and {closed} ')'"
    head = _HEAD.match(body)
    if head is None:
        words = body.split()
        return f"not a SELECT or WITH statement: starts with {words[0]!r}" if words else "empty statement"
    if head.group(1).upper() == "WITH":
        return _with_refusal(sql[: len(body)], head.start(1))
    return None


@dataclass(frozen=True, slots=True)
class _Masked:
    text: str


# Strings, backquoted identifiers and comments: the only places where a keyword or `;` does not count.
_OPAQUE = re.compile(
    _STRING + "|" + _IDENTIFIER
    + r"""|(?P<executable>/\*M?!)|/\*.*?\*/|--(?=\s|$)[^\n]*|\#[^\n]*|(?P<unterminated>['"`]|/\*)""",
    re.DOTALL,
)
_INTO = re.compile(r"(?<![" + _WORD_CHARS + r"])(?i:INTO)(?![" + _WORD_CHARS + r"])")
_HEAD = re.compile(r"[\s(]*(?i:(SELECT|WITH))(?![" + _WORD_CHARS + r"])")


def _masked(sql: str) -> _Masked | str:
    """`sql` with every string, backquoted identifier and comment blanked to spaces (positions kept), or
    why it cannot be read."""
    pieces: list[str] = []
    last = 0
    for match in _OPAQUE.finditer(sql):
        if match.lastgroup == "executable":
            return f"executable comment {match.group()!r} at char {match.start()}"
        if match.lastgroup == "unterminated":
            return f"unterminated {_UNTERMINATED[match.group()]} at char {match.start()}"
        start, end = match.span()
        pieces.append(sql[last:start])
        pieces.append(" " * (end - start))
        last = end
    if not pieces:
        return _Masked(sql)
    pieces.append(sql[last:])
    return _Masked("".join(pieces))


def _with_refusal(body: str, start: int) -> str | None:
    """Read a WITH statement's grammar over its tokens (rare in PINOLO output, so the full lexer is fine)."""
    kinds: list[str] = []
    texts: list[str] = []
    starts: list[int] = []
    for match in _LEXER.finditer(body, start):
        kind = match.lastgroup
        if kind == "other" and match.group().isspace():
            continue
        kinds.append(match.group().upper() if kind == "keyword" else kind)
        texts.append(match.group())
        starts.append(match.start())
    return _grammar_refusal(kinds, texts, starts)


def _grammar_refusal(kinds: list[str], texts: list[str], starts: list[int]) -> str | None:
    end = len(kinds)
    if kinds[-1] == "semicolon":
        end -= 1
    for index in range(end):
        if kinds[index] == "semicolon":
            return f"more than one statement (';' at char {starts[index]})"
    depth = 0
    for index in range(end):
        kind = kinds[index]
        if kind == "open":
            depth += 1
        elif kind == "close":
            depth -= 1
            if depth < 0:
                return f"unbalanced ')' at char {starts[index]}"
    if depth:
        return "unbalanced parentheses: a '(' is never closed"
    position = 0
    while position < end and kinds[position] == "open":
        position += 1
    if position == end:
        return "empty statement"
    if kinds[position] == "WITH":
        position = _after_with_list(kinds, position + 1, end)
        if isinstance(position, str):
            return position
        while position < end and kinds[position] == "open":
            position += 1
        if position == end or kinds[position] != "SELECT":
            found = "the end" if position == end else repr(_first_word(texts[position]))
            return f"WITH must be followed by a SELECT, found {found}"
        return None
    if kinds[position] != "SELECT":
        return f"not a SELECT or WITH statement: starts with {_first_word(texts[position])!r}"
    return None


def _after_with_list(kinds: list[str], position: int, end: int) -> int | str:
    """Skip `[RECURSIVE] name [(cols)] AS (…)[, …]`; the index after it, or why the list is malformed."""
    if position < end and kinds[position] == "RECURSIVE":
        position += 1
    while True:
        if position >= end or kinds[position] not in ("other", "ident"):
            return "WITH is not followed by a common table expression name"
        position += 1
        if position < end and kinds[position] == "open":
            position = _after_group(kinds, position, end)
        if position >= end or kinds[position] != "AS":
            return "a common table expression lacks AS (…)"
        position += 1
        if position >= end or kinds[position] != "open":
            return "a common table expression lacks its parenthesised query"
        position = _after_group(kinds, position, end)
        if position < end and kinds[position] == "comma":
            position += 1
            continue
        return position


def _after_group(kinds: list[str], position: int, end: int) -> int:
    """The index after the parenthesised group opening at `position` (parentheses are known balanced)."""
    depth = 0
    while position < end:
        if kinds[position] == "open":
            depth += 1
        elif kinds[position] == "close":
            depth -= 1
            if depth == 0:
                return position + 1
        position += 1
    return position


def _first_word(text: str) -> str:
    return text.split()[0] if text.split() else text


_LOCAL_ENGINES = {"INNODB", "MYISAM", "ARIA", "MEMORY", "HEAP"}


@dataclass(frozen=True, slots=True)
class DataStatement:
    """One statement of a data SQL file: CREATE TABLE or INSERT, on an unqualified table."""

    kind: str
    table: str
    sql: str


def split_data_sql(text: str, source: str = "output.data.sql") -> list[DataStatement]:
    """Split a task's data SQL into statements; raise DataSqlError unless each is a CREATE TABLE or an INSERT
    of literal rows into an unqualified table (so loading can touch nothing but its own database)."""
    try:
        tokens = tokenize(text)
    except SqlSyntaxError as error:
        raise DataSqlError(f"{source}: cannot be read: {error}") from None
    statements: list[DataStatement] = []
    first = 0
    keys = tokens.keys
    boundaries = [index for index, key in enumerate(keys) if key == ";"] + [len(keys)]
    for last in boundaries:
        if last > first:  # `;;` is an empty statement, not counted
            statements.append(_data_statement(tokens, first, last, len(statements) + 1, source))
        first = last + 1
    if not statements:
        raise DataSqlError(f"{source}: holds no statement")
    return statements


def _data_statement(tokens, first: int, last: int, number: int, source: str) -> DataStatement:
    keys = tokens.keys[first:last]
    where = f"{source}: statement {number}"
    if keys[:2] == ["CREATE", "TABLE"]:
        kind, position = "create", 2
        if keys[2:5] == ["IF", "NOT", "EXISTS"]:
            position = 5
    elif keys[:1] == ["INSERT"]:
        kind, position = "insert", 1
        if position < len(keys) and keys[position] == "IGNORE":
            position += 1
        if position < len(keys) and keys[position] == "INTO":
            position += 1
    else:
        head = " ".join(tokens.text(first, min(last, first + 2)).split())
        raise DataSqlError(f"{where} is not CREATE TABLE or INSERT: starts with {head!r}")
    if position >= len(keys):
        raise DataSqlError(f"{where} names no table")
    if position + 1 < len(keys) and keys[position + 1] == ".":
        raise DataSqlError(f"{where} names a table in another database: {tokens.text(first + position, first + position + 3)!r}")
    if "SELECT" in keys:
        raise DataSqlError(f"{where} reads other tables (SELECT); only literal rows may be loaded")
    if kind == "create":
        for index, key in enumerate(keys):
            if key in ("DIRECTORY", "CONNECTION"):
                raise DataSqlError(f"{where} sets {key} (storage outside the database); not loaded")
            if key == "ENGINE":
                following = index + 2 if index + 1 < len(keys) and keys[index + 1] == "=" else index + 1
                engine = keys[following].lstrip("`") if following < len(keys) else ""
                if engine not in _LOCAL_ENGINES:
                    raise DataSqlError(f"{where} uses ENGINE {engine}; only local storage engines are loaded")
    table = tokens.text(first + position, first + position + 1).strip("`")
    if kind == "insert" and "VALUES" not in keys and "VALUE" not in keys:
        raise DataSqlError(f"{where} inserts no VALUES")
    return DataStatement(kind, table, tokens.text(first, last))
