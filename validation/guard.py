"""What may be sent to a server: one read-only SELECT/WITH statement, and data SQL of literal rows only.

SQL from PINOLO files is untrusted. What the guard guarantees, and how:

* **It reads the text as the server does.** Both checks below read through `validation.lexer`, which applies
  the MariaDB/MySQL lexer's rules (quotes with backslash escapes and doubled quotes, backquoted identifiers,
  `/* */`, `-- `, `#`) for the session the runner pins (sql_mode without ANSI_QUOTES or NO_BACKSLASH_ESCAPES,
  utf8mb4), and refuses every text the servers could read differently: executable `/*!`/`/*M!` comments,
  `/*+` hints, `--` before a control or non-ASCII character, stray control characters and non-ASCII
  whitespace, NUL, malformed exponents, unterminated literals. A keyword inside a string or a comment never
  counts, and a `;` inside a string never splits, *because the server agrees that it is inside*.
* **Statements** (`statement_refusal`): exactly one SELECT, or `WITH [RECURSIVE] name [(columns)] AS (…)[, …]`
  followed by a SELECT, optionally in parentheses, with balanced parentheses, at most one trailing `;`, no
  `INTO` (outfile, dumpfile, variables) and no `:=` assignment.
* **Data SQL** (`split_data_sql`): CREATE TABLE of local storage, and `INSERT [IGNORE] [INTO] t [(columns)]
  VALUES (literal, …)[, (…)]` where a literal is a signed number, a string (with an optional `_charset` or
  `N` prefix, adjacent strings joined), a hex or bit literal, NULL, TRUE, FALSE, DEFAULT or a DATE/TIME/
  TIMESTAMP string. No function call, subquery, expression or anything after the rows; tables unqualified;
  CREATE TABLE without SELECT, LIKE, generated columns, expression defaults, CHECK, foreign keys,
  partitions, UNION=, DIRECTORY, CONNECTION, non-local engines or function calls. So loading a file can only
  create and fill tables in the loader's own database.
* **Bounded cost.** A statement longer than `MAX_STATEMENT_CHARS` (a data file longer than
  `MAX_DATA_SQL_CHARS`) is refused unread, and reading is linear in the length of the text (possessive
  patterns, and the first unterminated literal ends the reading).

`statement_refusal` runs on every statement the runner sends, so it has a fast path: one `re.sub` (in C)
replaces every string, backquoted identifier and comment with a placeholder, or, at the first opener that
does not close, swallows the rest of the text and leaves the opener visible. What remains holds no literal
text, so plain string methods and two small regexes decide the common case. Anything unusual (a non-ASCII
character outside literals, a control character, `#`, `--`, a backslash, an opener left visible, a comment
before the first keyword, a WITH list) is handed to the token-level check `_exact_refusal`, which is the
authority and names the position; the tests hold the fast path to never accept what it refuses.

The guard is the first of three locks: the connection never enables multi-statements, and the account can
only SELECT from the validation databases.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NoReturn
from dataclasses import dataclass

from .errors import DataSqlError
from .lexer import (
    BLOCK_COMMENT,
    DASH_COMMENT,
    DOUBLE_QUOTED,
    HASH_COMMENT,
    MAX_STATEMENT_CHARS,
    QUOTED_IDENTIFIER,
    SINGLE_QUOTED,
    LexError,
    Token,
    tokens,
)

__all__ = ["MAX_DATA_SQL_CHARS", "MAX_STATEMENT_CHARS", "DataStatement", "split_data_sql", "statement_refusal"]


def statement_refusal(sql: str) -> str | None:
    """None when `sql` is exactly one SELECT (or WITH … SELECT) statement, else why it is refused."""
    if len(sql) > MAX_STATEMENT_CHARS:
        return f"statement of {len(sql)} characters is over the {MAX_STATEMENT_CHARS} character limit"
    blanked = _OPAQUE_BLANKED.sub(" _ ", sql + _SENTINEL)
    if blanked.endswith(_SENTINEL) and _plainly_one_select(blanked[: -len(_SENTINEL)]):
        return None
    return _exact_refusal(sql)


# The fast path. Complete literals and comments become ` _ `. Anything the fast path does not decide (an
# opener that does not close, an executable comment, an ambiguous `--`, a control character, a backslash, `:=`)
# swallows the rest of the text, the sentinel appended to it included, and a blanked text that lost its
# sentinel is never accepted. Every alternative starts with a literal character, so the regex engine skips
# ordinary text in bulk, and either matches or fails within its first characters, except a literal that does
# not close, where the next alternative swallows the rest: the text is scanned once, in C.
# The sentinel: no literal or comment closes on it or runs over it, no stopper starts with it, and it keeps an
# ASCII text one byte per character. (A line comment at the very end of a text stops at it and goes the exact
# way, which reads the end correctly.)
_SENTINEL = "\xa0"
_STOPPERS = ("'", '"', "`", r"/\*", r"\#", "--(?![!-~])", r"\\", ":=") + tuple(
    f"\\x{code:02x}" for code in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)
)
_OPAQUE_BLANKED = re.compile("|".join(
    (SINGLE_QUOTED, DOUBLE_QUOTED, QUOTED_IDENTIFIER, BLOCK_COMMENT, HASH_COMMENT, DASH_COMMENT)
    + tuple(stopper + r"[\s\S]*+" for stopper in _STOPPERS)
))
# Left for the fast path to check on the blanked text: a `;` inside, a number with a bare exponent, a
# non-ASCII character (str.isascii), the head keyword, INTO and the parentheses.
_MALFORMED_NUMBER_HINT = re.compile(r"\.\d*+[eE][+-]?+(?!\d)")
_ASCII_WORD = "[0-9A-Za-z_$]"
_WITH_NAME = re.compile(r"[\x20\t\r\n]*" + _ASCII_WORD + r"++[\x20\t\r\n]*")
_AS_OPEN = re.compile(r"[\x20\t\r\n]*(?i:AS)[\x20\t\r\n]*\(")
_PARENS = re.compile(r"[()]")
_RECURSIVE = re.compile(r"[\x20\t\r\n]+(?i:RECURSIVE)(?!" + _ASCII_WORD + ")")
_COMMA = re.compile(r"[\x20\t\r\n]*,")
_INTO = re.compile(r"(?<!" + _ASCII_WORD + r")(?i:INTO)(?!" + _ASCII_WORD + ")")
_HEAD = re.compile(r"[\x20\t\r\n(]*(?i:(SELECT|WITH))(?!" + _ASCII_WORD + ")")
_SPACES = " \t\r\n"


def _plainly_one_select(blanked: str) -> bool:
    body = blanked.rstrip(_SPACES)
    body = body.removesuffix(";")
    if not body.isascii() or ";" in body or _MALFORMED_NUMBER_HINT.search(body):
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


# The exact check, over the lexer's tokens.

_GRAMMAR_KEYWORDS = frozenset(("SELECT", "WITH", "RECURSIVE", "AS", "INTO"))
_PUNCT_KINDS = {"(": "open", ")": "close", ",": "comma", ";": "semicolon"}


def _exact_refusal(sql: str) -> str | None:
    try:
        significant = list(tokens(sql))
    except LexError as error:
        return error.reason
    end = len(significant)
    if end and significant[-1].text == ";":
        end -= 1
    significant = significant[:end]
    for token in significant:
        if token.text == ";" and token.kind == "punct":
            return f"more than one statement (';' at char {token.start})"
    for token in significant:
        if token.kind == "word" and token.text.upper() == "INTO":
            return f"SELECT … INTO writes outside the result set (INTO at char {token.start})"
    for token in significant:
        if token.text == ":=" and token.kind == "punct":
            return f"variable assignment ':=' at char {token.start}"
    opened = sum(1 for token in significant if token.text == "(" and token.kind == "punct")
    closed = sum(1 for token in significant if token.text == ")" and token.kind == "punct")
    if opened != closed:
        return f"unbalanced parentheses: {opened} '(' and {closed} ')'"
    return _grammar_refusal(significant)


def _kind(token: Token) -> str:
    if token.kind == "punct":
        return _PUNCT_KINDS.get(token.text, "other")
    if token.kind == "word":
        upper = token.text.upper()
        return upper if upper in _GRAMMAR_KEYWORDS else "name"
    return "name" if token.kind == "quoted" else "other"


def _grammar_refusal(significant: list[Token]) -> str | None:
    kinds = [_kind(token) for token in significant]
    end = len(kinds)
    position = 0
    while position < end and kinds[position] == "open":
        position += 1
    if position == end:
        return "empty statement"
    if kinds[position] == "WITH":
        # The WITH list is read group by group, so the parentheses must also nest (a SELECT with `)(` is
        # merely a syntax error for the server).
        depth = 0
        for index in range(end):
            if kinds[index] == "open":
                depth += 1
            elif kinds[index] == "close":
                depth -= 1
                if depth < 0:
                    return f"unbalanced ')' at char {significant[index].start}"
        position = _after_with_list(kinds, position + 1, end)
        if isinstance(position, str):
            return position
        while position < end and kinds[position] == "open":
            position += 1
        if position == end or kinds[position] != "SELECT":
            found = "the end" if position == end else repr(significant[position].text)
            return f"WITH must be followed by a SELECT, found {found}"
        return None
    if kinds[position] != "SELECT":
        return f"not a SELECT or WITH statement: starts with {significant[position].text!r}"
    return None


def _after_with_list(kinds: list[str], position: int, end: int) -> int | str:
    """Skip `[RECURSIVE] name [(cols)] AS (…)[, …]`; the index after it, or why the list is malformed."""
    if position < end and kinds[position] == "RECURSIVE":
        position += 1
    while True:
        if position >= end or kinds[position] != "name":
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


# Data SQL.

# A task's data file is refused unread above this size (the §9.3 file is 6 KB; ingest caps files at 16 MiB).
MAX_DATA_SQL_CHARS = 16 << 20

_LOCAL_ENGINES = frozenset(("INNODB", "MYISAM", "ARIA", "MEMORY", "HEAP"))
# Words that may stand before `(` in CREATE TABLE: column types, index kinds and index algorithms.
_WORDS_BEFORE_PARENS = frozenset((
    "BIT", "TINYINT", "SMALLINT", "MEDIUMINT", "MIDDLEINT", "INT", "INTEGER", "BIGINT", "INT1", "INT2", "INT3",
    "INT4", "INT8", "DECIMAL", "DEC", "NUMERIC", "FIXED", "FLOAT", "FLOAT4", "FLOAT8", "DOUBLE", "PRECISION",
    "REAL", "CHAR", "CHARACTER", "VARYING", "VARCHAR", "VARCHARACTER", "NCHAR", "NVARCHAR", "BINARY",
    "VARBINARY", "TEXT", "BLOB", "TIME", "TIMESTAMP", "DATETIME", "YEAR", "ENUM", "SET",
    "KEY", "INDEX", "UNIQUE", "FULLTEXT", "SPATIAL", "BTREE", "HASH", "RTREE",
))
# An index name stands between one of these and its column list: `KEY k (a)`.
_INDEX_WORDS = frozenset(("KEY", "INDEX", "UNIQUE", "FULLTEXT", "SPATIAL"))
_CURRENT_TIME_WORDS = frozenset(("CURRENT_TIMESTAMP", "LOCALTIMESTAMP", "LOCALTIME"))
# CREATE TABLE words that would read other tables, compute values or place data elsewhere: the reason.
_CREATE_REFUSALS = {
    "LIKE": "copies another table's definition",
    "AS": "computes columns or copies a query's result",
    "GENERATED": "declares a generated column",
    "CHECK": "declares a CHECK expression",
    "REFERENCES": "declares a foreign key to another table",
    "FOREIGN": "declares a foreign key to another table",
    "PARTITION": "declares partitions",
    "PARTITIONS": "declares partitions",
    "SUBPARTITION": "declares partitions",
    "UNION": "merges other tables (UNION=)",
}
_HEX_LITERAL = re.compile(r"0x[0-9A-Fa-f]++")
_BIT_LITERAL = re.compile(r"0b[01]++")
_HEX_STRING = re.compile(r"'(?:[0-9A-Fa-f]{2})*+'")
_BIT_STRING = re.compile(r"'[01]*+'")
_CHARSET_INTRODUCER = re.compile(r"_[A-Za-z0-9_]++")


@dataclass(frozen=True, slots=True)
class DataStatement:
    """One statement of a data SQL file: CREATE TABLE or INSERT, on an unqualified table."""

    kind: str
    table: str
    sql: str


class _Refused(Exception):
    """A data statement breaks a rule: the message completes `<source>: statement <n>`."""


def split_data_sql(text: str, source: str = "output.data.sql") -> list[DataStatement]:
    """Split a task's data SQL into statements; raise DataSqlError unless each is a CREATE TABLE or an INSERT
    of literal rows into an unqualified table (so loading can touch nothing but its own database). Positions
    in the messages are character offsets in `text`."""
    if len(text) > MAX_DATA_SQL_CHARS:
        raise DataSqlError(f"{source}: {len(text)} characters, over the {MAX_DATA_SQL_CHARS} character limit; not read")
    statements: list[DataStatement] = []
    current: list[Token] = []
    try:
        for token in tokens(text):
            if token.kind == "punct" and token.text == ";":
                if current:  # `;;` is an empty statement, not counted
                    statements.append(_data_statement(text, current, len(statements) + 1, source))
                    current = []
            else:
                current.append(token)
    except LexError as error:
        raise DataSqlError(f"{source}: statement {len(statements) + 1}: {error.reason}; not loaded") from None
    if current:
        statements.append(_data_statement(text, current, len(statements) + 1, source))
    if not statements:
        raise DataSqlError(f"{source}: holds no statement")
    return statements


def _data_statement(text: str, significant: list[Token], number: int, source: str) -> DataStatement:
    where = f"{source}: statement {number}"
    try:
        kind, table = _checked_statement(text, significant)
    except _Refused as refused:
        raise DataSqlError(f"{where}{refused}") from None
    return DataStatement(kind, table, text[significant[0].start : significant[-1].end])


def _upper(token: Token) -> str:
    return token.text.upper() if token.kind == "word" else ""


def _checked_statement(text: str, significant: Sequence[Token]) -> tuple[str, str]:
    words = [_upper(token) for token in significant]
    if words[:2] == ["CREATE", "TABLE"]:
        kind, position = "create", 2
        if words[2:5] == ["IF", "NOT", "EXISTS"]:
            position = 5
    elif words[:1] == ["INSERT"]:
        kind, position = "insert", 1
        if position < len(words) and words[position] == "IGNORE":
            position += 1
        if position < len(words) and words[position] == "INTO":
            position += 1
    else:
        head = " ".join(text[significant[0].start : significant[min(len(significant), 2) - 1].end].split())
        raise _Refused(f" is not CREATE TABLE or INSERT: starts with {head!r}")
    if position >= len(significant) or significant[position].kind not in ("word", "quoted"):
        raise _Refused(" names no table")
    name = significant[position]
    if position + 1 < len(significant) and significant[position + 1].text == ".":
        last = significant[min(position + 2, len(significant) - 1)]
        raise _Refused(f" names a table in another database: {text[name.start : last.end]!r}")
    if "SELECT" in words:
        raise _Refused(" reads other tables (SELECT); only literal rows may be loaded")
    if kind == "create":
        _check_create(significant, words, position + 1)
    else:
        _check_insert(significant, words, position + 1)
    table = name.text[1:-1].replace("``", "`") if name.kind == "quoted" else name.text
    return kind, table


def _check_create(significant: Sequence[Token], words: list[str], position: int) -> None:
    end = len(significant)
    for index in range(position, end):
        token, word = significant[index], words[index]
        following = significant[index + 1] if index + 1 < end else None
        if word in ("DIRECTORY", "CONNECTION"):
            raise _Refused(f" sets {word} (storage outside the database); not loaded")
        if word == "ENGINE":
            engine_at = index + 2 if following is not None and following.text == "=" else index + 1
            engine = _name_text(significant[engine_at]).upper() if engine_at < end else ""
            if engine not in _LOCAL_ENGINES:
                raise _Refused(f" uses ENGINE {engine}; only local storage engines are loaded")
        elif word in _CREATE_REFUSALS:
            raise _Refused(f": {word} at char {token.start} {_CREATE_REFUSALS[word]}; not loaded")
        elif word == "DEFAULT" and index + 1 < end and words[index + 1] in ("CHARSET", "CHARACTER", "COLLATE"):
            continue  # the table option DEFAULT CHARSET=…, not a column default
        elif word == "DEFAULT":
            _check_default(significant, words, index + 1)
        elif word == "ON":
            _check_on_update(significant, words, index)
        elif following is not None and following.text == "(" and token.kind in ("word", "quoted"):
            before = words[index - 1] if index > position else ""
            if word not in _WORDS_BEFORE_PARENS and before not in _INDEX_WORDS:
                raise _Refused(f": {token.text}(…) at char {token.start}: function calls are not loaded")


def _check_default(significant: Sequence[Token], words: list[str], position: int) -> None:
    if position < len(significant) and words[position] in _CURRENT_TIME_WORDS:
        if position + 1 >= len(significant) or significant[position + 1].text != "(":
            return
    try:
        _literal_end(significant, words, position)
    except _Refused:
        token = significant[min(position, len(significant) - 1)]
        raise _Refused(f": DEFAULT {token.text!r} at char {token.start}: only literal defaults are loaded") from None


def _check_on_update(significant: Sequence[Token], words: list[str], position: int) -> None:
    """`ON UPDATE CURRENT_TIMESTAMP` is the only ON clause loaded (ON DELETE/UPDATE of foreign keys are not)."""
    end = len(significant)
    if (position + 2 < end and words[position + 1] == "UPDATE" and words[position + 2] in _CURRENT_TIME_WORDS
            and (position + 3 >= end or significant[position + 3].text != "(")):
        return
    token = significant[position]
    raise _Refused(f": ON at char {token.start}: only ON UPDATE CURRENT_TIMESTAMP is loaded")


def _name_text(token: Token) -> str:
    return token.text[1:-1].replace("``", "`") if token.kind == "quoted" else token.text


def _check_insert(significant: Sequence[Token], words: list[str], position: int) -> None:
    end = len(significant)
    if position < end and significant[position].text == "(":  # the column list: names separated by commas
        position += 1
        while position < end and significant[position].kind in ("word", "quoted"):
            position += 1
            if position < end and significant[position].text == ",":
                position += 1
            else:
                break
        if position >= end or significant[position].text != ")":
            _refuse_token(significant, position, "expected a column name, ',' or ')' in the column list")
        position += 1
    if position >= end:
        raise _Refused(" inserts no VALUES")
    if words[position] not in ("VALUES", "VALUE"):
        _refuse_token(significant, position, "only INSERT … VALUES (literal, …) is loaded")
    position += 1
    while True:
        if position >= end or significant[position].text != "(":
            _refuse_token(significant, position, "a row of VALUES must be a parenthesised list")
        position += 1
        if position < end and significant[position].text == ")":  # `()`: a row of defaults
            position += 1
        else:
            while True:
                position = _literal_end(significant, words, position)
                if position < end and significant[position].text == ",":
                    position += 1
                    continue
                if position < end and significant[position].text == ")":
                    position += 1
                    break
                _refuse_token(significant, position, "only literal values may be loaded")
        if position == end:
            return
        if significant[position].text != ",":
            _refuse_token(significant, position, "nothing may follow the VALUES rows")
        position += 1


def _literal_end(significant: Sequence[Token], words: list[str], position: int) -> int:
    """The index after the literal starting at `position`; _Refused if there is none there."""
    end = len(significant)
    signs = position
    while position < end and significant[position].kind == "punct" and significant[position].text in "+-":
        position += 1
    if position >= end:
        _refuse_token(significant, position, "only literal values may be loaded")
    token, word = significant[position], words[position]
    following = significant[position + 1] if position + 1 < end else None
    if token.kind == "number":
        return position + 1
    if position > signs:  # a sign before anything but a number is an expression
        _refuse_token(significant, position, "only literal values may be loaded")
    if token.kind == "string":
        return _after_strings(significant, position)
    if token.kind == "word":
        if following is not None and following.text == "(":
            raise _Refused(f": {token.text}(…) at char {token.start}: only literal values may be loaded")
        if word in ("NULL", "TRUE", "FALSE", "DEFAULT"):
            return position + 1
        if _HEX_LITERAL.fullmatch(token.text) or _BIT_LITERAL.fullmatch(token.text):
            return position + 1
        adjacent = following is not None and following.kind == "string" and following.start == token.end
        if word in ("X", "B") and adjacent and following.text.startswith("'"):
            pattern = _HEX_STRING if word == "X" else _BIT_STRING
            if pattern.fullmatch(following.text):
                return position + 2
            raise _Refused(f": malformed {token.text}{following.text} at char {token.start}; not loaded")
        if word == "N" and adjacent:
            return _after_strings(significant, position + 1)
        if _CHARSET_INTRODUCER.fullmatch(token.text) and following is not None and following.kind == "string":
            return _after_strings(significant, position + 1)
        if word in ("DATE", "TIME", "TIMESTAMP") and following is not None and following.kind == "string":
            return position + 2
    _refuse_token(significant, position, "only literal values may be loaded")


def _after_strings(significant: Sequence[Token], position: int) -> int:
    """Adjacent string literals are one literal to the server: `'a' 'b'` is 'ab'."""
    while position < len(significant) and significant[position].kind == "string":
        position += 1
    return position


def _refuse_token(significant: Sequence[Token], position: int, why: str) -> NoReturn:
    if position >= len(significant):
        raise _Refused(f": the statement ends early: {why}")
    token = significant[position]
    shown = token.text if len(token.text) <= 40 else token.text[:39] + "…"
    raise _Refused(f": {shown!r} at char {token.start}: {why}")
