"""PINOLO's on-disk formats (reference §7, §9.3): writers, and parsers for what a later ingest stage reads.

PINOLO is a Go program, so every byte it leaves behind follows Go conventions: `encoding/json` escaping,
`time.Time.String()`, `time.Duration.String()`, logrus' TextFormatter with `%q` quoting. The writers here
reproduce those conventions so that generated fixtures look like real output to a reader that was written
against real output; the parsers are strict and raise `FormatError` naming what is wrong, because a reader
that guesses would silently turn damaged files into training data.

Nothing here imports the mutation engine: formats are the bottom of the package and must stay importable
while the engine is broken or half-written.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Sequence

from .strategies import STRATEGIES

__all__ = [
    "FormatError",
    "KNOWN_DBMS",
    "MANIFEST_NAME",
    "PINOLO_MUTATION_NAMES",
    "TABLES",
    "COLUMNS",
    "KEY_COLUMNS",
    "OUTPUT_DATA_SQL",
    "OUTPUT_DATA_SQL_SHA256",
    "RULE",
    "go_json",
    "go_quote",
    "go_unquote",
    "GoTime",
    "parse_go_time",
    "go_duration",
    "parse_go_duration",
    "QueryResult",
    "BugLog",
    "format_bug_log",
    "parse_bug_log",
    "BugReport",
    "bug_json",
    "parse_bug_json",
    "TaskResult",
    "PoolResult",
    "TaskConfig",
    "task_result_json",
    "parse_task_result",
    "pool_result_json",
    "parse_pool_result",
    "task_config_json",
    "parse_task_config",
    "LogLine",
    "logrus_line",
    "parse_logrus_line",
    "BugFileName",
    "bug_file_name",
    "parse_bug_file_name",
    "is_known_mutation",
]


class FormatError(ValueError):
    """A PINOLO file (or file name) that does not have the shape PINOLO writes; the message says where."""


# The DBMS PINOLO tests (its `dbms` config values and the pool directory names it writes).
KNOWN_DBMS: tuple[str, ...] = ("mysql", "mariadb", "tidb", "oceanbase")

# The simulator's fault manifest, `<root>/pinoloft-faults.json`: the answer key of a generated tree, NOT
# PINOLO output, which ingest's discovery must skip. It lives here, not in ingest (its reader) or in the
# simulator (its writer), because both need it and neither may import the other (they share floor 2).
MANIFEST_NAME = "pinoloft-faults.json"

# The mutationName vocabulary of bug files is the strategy list itself (strategies.py imports nothing).
PINOLO_MUTATION_NAMES: tuple[str, ...] = STRATEGIES
_KNOWN_NAMES = frozenset(PINOLO_MUTATION_NAMES)


def is_known_mutation(name: str) -> bool:
    """True for the 18 names PINOLO can write; anything else in a bug file is damage or a foreign tool."""
    return name in _KNOWN_NAMES


# ---------------------------------------------------------------------------------------------------------
# Database shape (§9): two tables, 20 columns + pk, the 10 `_key_` columns singly indexed.

TABLES: tuple[str, ...] = ("table_3_utf8_undef", "table_7_utf8_undef")


def _column_names() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Enumerate go-randgen's field order (types, then keys, then sign) as §9.2 describes."""
    names: list[str] = []
    types: list[str] = []
    for typ in ("bigint", "float", "double", "decimal(40, 20)", "char(20)", "varchar(20)"):
        numeric = not typ.startswith(("char", "varchar"))
        for key in ("undef", "key"):
            for sign in ("signed", "unsigned") if numeric else ("signed",):
                names.append(f"col_{typ}_{key}_{sign}")
                types.append(typ)
    keys = tuple(n for n in names if "_key_" in n)
    return tuple(names), tuple(types), keys


COLUMNS, COLUMN_SQL_TYPES, KEY_COLUMNS = _column_names()


def _create_table(name: str) -> str:
    lines = [f"create table {name} (", "`pk` int primary key,"]
    for col, typ in zip(COLUMNS, COLUMN_SQL_TYPES):
        unsigned = "unsigned" if col.endswith("_unsigned") else ""
        lines.append(f"`{col}` {typ} {unsigned} ,")
    keys = [f"key (`{col}`)" for col in KEY_COLUMNS]
    lines.extend(k + "," for k in keys[:-1])
    lines.append(keys[-1])
    lines.append(") character set utf8 ")
    return "\n".join(lines)


_INSERT_3 = (
    "insert into table_3_utf8_undef values (0,82.1847,1,39.0425,38.1089,-1,1,94.1106,1.009,12.991,19755,"
    "-13064,0,1,79.1429,-2,1,\"well\",'3\n','-0','e'),(1,1,20.0078,-9.183,68.1957,1,2,1,0.0001,12.991,2,"
    "71.0510,1,-1,2,12.991,12.991,'3\t','1','3\t','-0'),(2,-2,1,-21247,1.009,2,1.009,0.0001,36.0002,-2,2,"
    "-0,0.0001,-2,0.1598,47.1515,1.009,'3\t','w','-1','e')"
)
_INSERT_7 = (
    "insert into table_7_utf8_undef values (0,-9.183,1,1.1384,2,15.1271,12.991,-2,0.0001,36.1270,79.1819,"
    "0.0001,0.0001,3.1387,52.0818,-0,0.0001,'1','3\t','0','0'),(1,79,12.991,107,2,-0.0001,0,1.009,1.009,"
    "34,1,-1,69.0208,1,2,120,12.991,'3\t','-1',\"if\",'b'),(2,-2,1,-9.183,1,12.991,0.0001,53,12.991,1.009,"
    "12.991,12.991,0.0001,-0.0001,12.991,0.0001,2,'3\n','p','0','3\t'),(3,-0.0001,12.991,1.009,1.009,"
    "-9.183,2,0,1,-2,1,2,1,2,1.009,2,12.991,'3\n','0','k','0'),(4,1.009,0.0001,-1,12.991,2,47,2,0,12.991,"
    "12.991,1.009,0,1.009,1.009,-0.0001,6949,'-1','\t3','1','m'),(5,-0,1,0,0,0.0001,28.1237,12.991,0,"
    "12.991,12.991,-0,12.991,2,2,2,1.009,'0','\t3','0','\t3'),(6,45.0855,1,38.1166,1,1.009,80.0284,2,122,"
    "0.0001,0,-1,11130,0,1,1,0,\"know\",'-0','\n3','3\n')"
)

#: The exact bytes of every task's `output.data.sql` (§9.3): same for every task and seed.
OUTPUT_DATA_SQL: bytes = (
    ";\n".join([_create_table(TABLES[0]), _INSERT_3, _create_table(TABLES[1]), _INSERT_7]) + ";"
).encode("ascii")
OUTPUT_DATA_SQL_SHA256 = "ab7e92ac0afda335a725160187966d5f3c5214b1ae2027749a2304abd527b78b"
assert hashlib.sha256(OUTPUT_DATA_SQL).hexdigest() == OUTPUT_DATA_SQL_SHA256, "output.data.sql drifted"


# ---------------------------------------------------------------------------------------------------------
# Go encoding/json (compact, HTML-escaping on, Go < 1.22 control-character style).

_JSON_ESCAPE_RE = re.compile('[\x00-\x1f"\\\\<>&\u2028\u2029\ud800-\udfff]')
_JSON_ESCAPES: dict[str, str] = {chr(c): f"\\u{c:04x}" for c in range(0x20)}
_JSON_ESCAPES.update(
    {
        "\n": "\\n",
        "\r": "\\r",
        "\t": "\\t",
        '"': '\\"',
        "\\": "\\\\",
        "<": "\\u003c",
        ">": "\\u003e",
        "&": "\\u0026",
        "\u2028": "\\u2028",
        "\u2029": "\\u2029",
    }
)


def _json_escape_char(match: re.Match[str]) -> str:
    ch = match.group()
    esc = _JSON_ESCAPES.get(ch)
    # A lone surrogate is how Python carries an undecodable byte (surrogateescape); Go writes U+FFFD for
    # each invalid byte, so that is what we write too.
    return esc if esc is not None else "\\ufffd"


def _go_json_string(s: str) -> str:
    return '"' + _JSON_ESCAPE_RE.sub(_json_escape_char, s) + '"'


def _go_json_float(f: float) -> str:
    """Go's float64 JSON form: shortest digits, fixed notation unless |f| < 1e-6 or >= 1e21."""
    if f != f or f in (float("inf"), float("-inf")):
        raise ValueError(f"json: unsupported value: {f!r}")
    r = repr(f)
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        # Python's repr already uses Go's mantissa and two-digit exponent; Go then shortens e-0X to e-X.
        return re.sub(r"e-0(\d)$", r"e-\1", r)
    text = format(Decimal(r), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def go_json(obj: Any) -> str:
    """Encode like Go's `json.Marshal`: compact, keys in the given order, `<>&` and U+2028/9 escaped.

    Supports dict (str keys), list/tuple, str, bool, int, float and None: the types PINOLO's structs use.
    """
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, str):
        return _go_json_string(obj)
    if isinstance(obj, int):
        return str(int(obj))
    if isinstance(obj, float):
        return _go_json_float(obj)
    if isinstance(obj, dict):
        parts = []
        for key, value in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"go_json: dict keys must be str, got {type(key).__name__}")
            parts.append(_go_json_string(key) + ":" + go_json(value))
        return "{" + ",".join(parts) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(go_json(v) for v in obj) + "]"
    raise TypeError(f"go_json: unsupported type {type(obj).__name__}")


# ---------------------------------------------------------------------------------------------------------
# Go strconv.Quote / Unquote (logrus quotes values with %q).

_GO_NAMED = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def _go_isprint(ch: str) -> bool:
    if ch == " ":
        return True
    return unicodedata.category(ch)[0] in "LMNPS"


def go_quote(s: str) -> str:
    """Go `strconv.Quote`: printable runes kept (non-ASCII too), the rest escaped Go-style.

    Undecodable bytes carried as surrogateescape code points come out as `\\xNN`, as Go does for invalid UTF-8.
    """
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif 0x20 <= o < 0x7F:
            out.append(ch)
        elif ch in _GO_NAMED:
            out.append(_GO_NAMED[ch])
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif 0xDC80 <= o <= 0xDCFF:
            out.append(f"\\x{o - 0xDC00:02x}")
        elif 0xD800 <= o <= 0xDFFF:
            out.append("\\ufffd")
        elif _go_isprint(ch):
            out.append(ch)
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append('"')
    return "".join(out)


_UNQUOTE_SIMPLE = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34, "'": 39}


def go_unquote(q: str) -> str:
    """Inverse of `go_quote` (Go `strconv.Unquote` for double-quoted strings); FormatError if malformed."""
    if len(q) < 2 or q[0] != '"' or q[-1] != '"':
        raise FormatError(f"not a Go double-quoted string: {q[:40]!r}")
    body = q[1:-1]
    buf = bytearray()
    i = 0
    n = len(body)
    while i < n:
        ch = body[i]
        if ch == '"':
            raise FormatError(f"unescaped '\"' inside Go quoted string at {i + 1}")
        if ch != "\\":
            buf += ch.encode("utf-8", "surrogateescape")
            i += 1
            continue
        if i + 1 >= n:
            raise FormatError("Go quoted string ends with a lone backslash")
        esc = body[i + 1]
        if esc in _UNQUOTE_SIMPLE:
            buf.append(_UNQUOTE_SIMPLE[esc])
            i += 2
        elif esc in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[esc]
            digits = body[i + 2 : i + 2 + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise FormatError(f"bad \\{esc} escape in Go quoted string at {i + 1}")
            value = int(digits, 16)
            if esc == "x":
                buf.append(value)
            else:
                buf += chr(value).encode("utf-8", "surrogatepass")
            i += 2 + width
        elif esc in "01234567":
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or not all(c in "01234567" for c in digits) or int(digits, 8) > 255:
                raise FormatError(f"bad octal escape in Go quoted string at {i + 1}")
            buf.append(int(digits, 8))
            i += 4
        else:
            raise FormatError(f"unknown escape \\{esc} in Go quoted string at {i + 1}")
    return buf.decode("utf-8", "surrogateescape")


# ---------------------------------------------------------------------------------------------------------
# Go time.Time.String(), RFC3339, Duration.String().


@dataclass(frozen=True, slots=True)
class GoTime:
    """A Go `time.Time` as PINOLO prints it: wall clock in a fixed zone, plus the monotonic reading.

    `unix_ns` is the instant; `offset_s`/`zone` the location (PINOLO's machines ran in CST, +0800);
    `mono_ns` is the monotonic clock since process start, printed as `m=+<s>.<9 digits>`, or None when the
    value carries no monotonic reading (e.g. after a round trip through a string).
    """

    unix_ns: int
    offset_s: int = 8 * 3600
    zone: str = "CST"
    mono_ns: int | None = None

    def plus(self, ns: int) -> "GoTime":
        """The time `ns` nanoseconds later; the monotonic reading advances with it."""
        mono = None if self.mono_ns is None else self.mono_ns + ns
        return GoTime(self.unix_ns + ns, self.offset_s, self.zone, mono)

    def _local(self) -> tuple[datetime, int]:
        secs, frac = divmod(self.unix_ns, 1_000_000_000)
        tz = timezone(timedelta(seconds=self.offset_s))
        return datetime.fromtimestamp(secs, tz), frac

    def _offset_text(self, colon: bool) -> str:
        sign = "-" if self.offset_s < 0 else "+"
        hh, mm = divmod(abs(self.offset_s) // 60, 60)
        return f"{sign}{hh:02d}:{mm:02d}" if colon else f"{sign}{hh:02d}{mm:02d}"

    def string(self) -> str:
        """Go `Time.String()`: `2006-01-02 15:04:05.999999999 -0700 MST m=+1.000000000`."""
        local, frac = self._local()
        text = local.strftime("%Y-%m-%d %H:%M:%S")
        if frac:
            text += "." + f"{frac:09d}".rstrip("0")
        text += f" {self._offset_text(False)} {self.zone or self._offset_text(False)}"
        if self.mono_ns is not None:
            m = self.mono_ns
            sign = "-" if m < 0 else "+"
            m = abs(m)
            text += f" m={sign}{m // 1_000_000_000}.{m % 1_000_000_000:09d}"
        return text

    def rfc3339(self) -> str:
        """Go `time.RFC3339` (`2006-01-02T15:04:05Z07:00`), what logrus' full timestamps use."""
        local, _ = self._local()
        zone = "Z" if self.offset_s == 0 else self._offset_text(True)
        return local.strftime("%Y-%m-%dT%H:%M:%S") + zone


_GO_TIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))? ([+-])(\d{2})(\d{2}) (\S+)"
    r"(?: m=([+-])(\d+)\.(\d{9}))?$"
)


def parse_go_time(text: str) -> GoTime:
    """Parse a Go `Time.String()` value (as in reportTime/startTime); FormatError if it isn't one."""
    m = _GO_TIME_RE.match(text)
    if not m:
        raise FormatError(f"not a Go time string: {text[:60]!r}")
    y, mo, d, hh, mi, ss, frac, osign, oh, om, zone, msign, msec, mfrac = m.groups()
    offset = (int(oh) * 3600 + int(om) * 60) * (-1 if osign == "-" else 1)
    try:
        local = datetime(int(y), int(mo), int(d), int(hh), int(mi), int(ss), tzinfo=timezone(timedelta(seconds=offset)))
    except ValueError as exc:
        raise FormatError(f"invalid date/time in Go time string {text[:60]!r}: {exc}") from None
    ns = int((frac or "0").ljust(9, "0"))
    unix_ns = int(local.timestamp()) * 1_000_000_000 + ns
    mono = None
    if msign is not None:
        mono = (int(msec) * 1_000_000_000 + int(mfrac)) * (-1 if msign == "-" else 1)
    return GoTime(unix_ns, offset, zone, mono)


def _fmt_frac(v: int, prec: int) -> tuple[str, int]:
    frac = v % (10**prec)
    digits = f"{frac:0{prec}d}".rstrip("0") if prec else ""
    return ("." + digits if digits else ""), v // (10**prec)


def go_duration(ns: int) -> str:
    """Go `Duration.String()`: `0s`, `850ns`, `850µs` (U+00B5), `1.234567ms`, `1.2s`, `1m0.5s`, `2h0m0s`."""
    neg = ns < 0
    u = -ns if neg else ns
    if u < 1_000_000_000:
        if u == 0:
            return "0s"
        if u < 1_000:
            unit, prec = "ns", 0
        elif u < 1_000_000:
            unit, prec = "\u00b5s", 3
        else:
            unit, prec = "ms", 6
        frac, whole = _fmt_frac(u, prec)
        text = f"{whole}{frac}{unit}"
    else:
        frac, whole = _fmt_frac(u, 9)
        text = f"{whole % 60}{frac}s"
        whole //= 60
        if whole > 0:
            text = f"{whole % 60}m" + text
            whole //= 60
            if whole > 0:
                text = f"{whole}h" + text
    return "-" + text if neg else text


_DURATION_RE = re.compile(r"^-?(?:0|(?:\d+(?:\.\d+)?(?:h|m|s|ms|\u00b5s|\u03bcs|us|ns))+)$")
_DURATION_PART_RE = re.compile(r"(\d+)(?:\.(\d+))?(h|ms|m|s|\u00b5s|\u03bcs|us|ns)")
_UNIT_NS = {"h": 3_600_000_000_000, "m": 60_000_000_000, "s": 1_000_000_000, "ms": 1_000_000,
            "\u00b5s": 1_000, "\u03bcs": 1_000, "us": 1_000, "ns": 1}


def parse_go_duration(text: str) -> int:
    """Nanoseconds of a Go duration string (`time.ParseDuration` units); FormatError if it isn't one."""
    if text in ("0", "0s", "-0s"):
        return 0
    if not _DURATION_RE.match(text):
        raise FormatError(f"not a Go duration: {text[:40]!r}")
    neg = text.startswith("-")
    total = 0
    for whole, frac, unit in _DURATION_PART_RE.findall(text):
        scale = _UNIT_NS[unit]
        total += int(whole) * scale
        if frac:
            total += int(frac) * scale // (10 ** len(frac))
    return -total if neg else total


# ---------------------------------------------------------------------------------------------------------
# Bug .log (§7.1).

RULE = "*" * 50


@dataclass(frozen=True, slots=True)
class QueryResult:
    """One executed query as the bug .log prints it.

    `columns` are (name, driver type) pairs; `rows` hold text-protocol cells, NULL as the string `NULL`
    (tuples, so results compare and hash; `[list(r) for r in rows]` where lists are wanted). Cells may hold
    newlines and tabs (the data has `'3\\n'` and `'\\t3'`); the one space of a DATETIME/TIMESTAMP cell is
    resolved by column type when parsing. `ambiguous_rows` lists rows whose cells could not be split
    reliably (a text cell containing a space); their `rows` entry is then the space-split tokens, from which
    the oracle's `,`-joined row string cannot be rebuilt. Writers leave it empty.
    """

    columns: tuple[tuple[str, str], ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    duration: str = "0s"
    error: str | None = None
    ambiguous_rows: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class BugLog:
    """What a bug `.log` holds: name, polarity, both results and both SQLs (without the `;` the log adds)."""

    mutation_name: str
    is_upper: bool
    original: QueryResult
    mutated: QueryResult
    original_sql: str
    mutated_sql: str


def _format_result(r: QueryResult) -> str:
    parts = ["ColumnName(ColumnType)s: "]
    parts.extend(f" {name}({typ})" for name, typ in r.columns)
    parts.append("\n")
    for i, row in enumerate(r.rows):
        parts.append(f"row {i}:")
        parts.extend(" " + cell for cell in row)
        parts.append("\n")
    if r.error is not None:
        parts.append(f"Error: {r.error}\n")
    parts.append(r.duration)
    return "".join(parts)


def format_bug_log(log: BugLog) -> str:
    """The bug `.log` text exactly as §7.1 lays it out (ends with a newline after the last `;`).

    The `Error:` line (never present in real bugs, which only come from successful executions) is placed
    before the duration [INFER].
    """
    return (
        f"{RULE}\n[MutationName] {log.mutation_name}\n{RULE}\n[IsUpper] {'true' if log.is_upper else 'false'}\n"
        f"{RULE}\n[OriginalResult]\n{_format_result(log.original)}\n"
        f"{RULE}\n[MutatedResult]\n{_format_result(log.mutated)}\n"
        f"{RULE}\n\n-- OriginalSql\n{log.original_sql};\n-- MutatedSql\n{log.mutated_sql};\n"
    )


_HEADER_PREFIX = "ColumnName(ColumnType)s: "
_COLUMN_RE = re.compile(r"^(.+)\(([A-Za-z][A-Za-z0-9_ ]*)\)$")
_ROW_RE = re.compile(r"^row (\d+):")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CLOCK_RE = re.compile(r"^-?\d{1,3}:\d{2}:\d{2}(?:\.\d+)?$")
_SPACED_TYPES = frozenset({"DATETIME", "TIMESTAMP"})


def _split_cells(text: str, columns: Sequence[tuple[str, str]]) -> tuple[tuple[str, ...], bool]:
    """Split a row's cell text; returns (cells, reliable). Datetime cells carry one space, merged by type."""
    tokens = text.split(" ")
    if len(tokens) == len(columns):
        return tuple(tokens), True
    cells: list[str] = []
    i = 0
    for _, typ in columns:
        if i >= len(tokens):
            break
        tok = tokens[i]
        spaced = typ.upper() in _SPACED_TYPES and _DATE_RE.match(tok)
        if spaced and i + 1 < len(tokens) and _CLOCK_RE.match(tokens[i + 1]):
            cells.append(tok + " " + tokens[i + 1])
            i += 2
        else:
            cells.append(tok)
            i += 1
    if i == len(tokens) and len(cells) == len(columns):
        return tuple(cells), True
    return tuple(tokens), False


def _parse_result(block: str, which: str) -> QueryResult:
    lines = block.split("\n")
    header = lines[0]
    if not header.startswith(_HEADER_PREFIX):
        raise FormatError(f"bug log: [{which}] must start with {_HEADER_PREFIX!r}, got {header[:60]!r}")
    columns: list[tuple[str, str]] = []
    rest = header[len(_HEADER_PREFIX) :]
    if rest:
        if not rest.startswith(" "):
            raise FormatError(f"bug log: [{which}] column header needs a space before each column: {header[:80]!r}")
        for chunk in rest[1:].split(" "):
            m = _COLUMN_RE.match(chunk)
            if not m:
                raise FormatError(f"bug log: [{which}] column {chunk!r} is not name(TYPE)")
            columns.append((m.group(1), m.group(2)))
    if len(lines) < 2:
        raise FormatError(f"bug log: [{which}] has no duration line")
    tail = lines[1:]
    duration = tail.pop()
    error: str | None = None
    if duration.startswith("Error: ") and tail:
        error, duration = duration[len("Error: ") :], tail.pop()
    try:
        parse_go_duration(duration)
    except FormatError:
        raise FormatError(f"bug log: [{which}] last line {duration[:40]!r} is not a Go duration") from None
    if error is None and tail and tail[-1].startswith("Error: "):
        error = tail.pop()[len("Error: ") :]
    rows_text: list[str] = []
    for line in tail:
        m = _ROW_RE.match(line)
        if m and int(m.group(1)) == len(rows_text):
            rows_text.append(line[m.end() :])
        elif rows_text:
            rows_text[-1] += "\n" + line  # a cell with an embedded newline (e.g. '3\n' from the data)
        else:
            raise FormatError(f"bug log: [{which}] expected 'row 0:' after the header, got {line[:60]!r}")
    if rows_text and not columns:
        raise FormatError(f"bug log: [{which}] has rows but an empty column header")
    rows: list[tuple[str, ...]] = []
    ambiguous: list[int] = []
    for i, text in enumerate(rows_text):
        if not text.startswith(" "):
            raise FormatError(f"bug log: [{which}] row {i} has no space before its first cell")
        cells, reliable = _split_cells(text[1:], columns)
        if not reliable:
            ambiguous.append(i)
        rows.append(cells)
    return QueryResult(tuple(columns), tuple(rows), duration, error, tuple(ambiguous))


def _expect(text: str, pos: int, literal: str, what: str) -> int:
    if not text.startswith(literal, pos):
        got = text[pos : pos + len(literal) + 10]
        raise FormatError(f"bug log: expected {what} {literal!r} at char {pos}, got {got!r}")
    return pos + len(literal)


def _line(text: str, pos: int, what: str) -> tuple[str, int]:
    end = text.find("\n", pos)
    if end < 0:
        raise FormatError(f"bug log: {what} line is not terminated")
    return text[pos:end], end + 1


def parse_bug_log(text: str) -> BugLog:
    """Parse a bug `.log` (§7.1) back into its parts; FormatError naming the first thing that is wrong."""
    if not text:
        raise FormatError("bug log: file is empty")
    pos = _expect(text, 0, f"{RULE}\n[MutationName] ", "the opening rule and")
    name, pos = _line(text, pos, "[MutationName]")
    if not name:
        raise FormatError("bug log: [MutationName] is empty")
    pos = _expect(text, pos, f"{RULE}\n[IsUpper] ", "a rule and")
    upper, pos = _line(text, pos, "[IsUpper]")
    if upper not in ("true", "false"):
        raise FormatError(f"bug log: [IsUpper] must be 'true' or 'false', got {upper[:20]!r}")
    pos = _expect(text, pos, f"{RULE}\n[OriginalResult]\n", "a rule and")
    marker = f"\n{RULE}\n[MutatedResult]\n"
    end = text.find(marker, pos)
    if end < 0:
        raise FormatError("bug log: missing the [MutatedResult] section")
    original = _parse_result(text[pos:end], "OriginalResult")
    pos = end + len(marker)
    marker = f"\n{RULE}\n\n-- OriginalSql\n"
    end = text.find(marker, pos)
    if end < 0:
        raise FormatError("bug log: missing the closing rule and '-- OriginalSql' section")
    mutated = _parse_result(text[pos:end], "MutatedResult")
    pos = end + len(marker)
    marker = "\n-- MutatedSql\n"
    end = text.find(marker, pos)
    if end < 0:
        raise FormatError("bug log: missing the '-- MutatedSql' section")
    original_sql = text[pos:end]
    if not original_sql.endswith(";"):
        raise FormatError("bug log: OriginalSql does not end with ';'")
    mutated_sql = text[end + len(marker) :]
    if not mutated_sql.endswith(";\n"):
        raise FormatError("bug log: MutatedSql does not end with ';' and a newline (truncated file?)")
    return BugLog(name, upper == "true", original, mutated, original_sql[:-1], mutated_sql[:-2])


# ---------------------------------------------------------------------------------------------------------
# JSON records: bug report, task result, pool result, task config. Field order is part of the format.


@dataclass(frozen=True, slots=True)
class BugReport:
    """A bug `.json` (§7.1): the pair and its metadata; the results live only in the `.log`."""

    report_time: str
    bug_id: int
    sql_id: int
    mutation_name: str
    is_upper: bool
    original_sql: str
    mutated_sql: str

    @property
    def key(self) -> str:
        """`<bugId>-<sqlId>-<mutationName>`: unique within a task, the stem of both file names."""
        return f"{self.bug_id}-{self.sql_id}-{self.mutation_name}"


_BUG_FIELDS = (
    ("reportTime", "report_time", str),
    ("bugId", "bug_id", int),
    ("sqlId", "sql_id", int),
    ("mutationName", "mutation_name", str),
    ("isUpper", "is_upper", bool),
    ("originalSql", "original_sql", str),
    ("mutatedSql", "mutated_sql", str),
)


@dataclass(frozen=True, slots=True)
class TaskResult:
    """A task's `result.json`, written only when the task ran to completion."""

    start_time: str
    ddl_sqls_num: int
    dml_sqls_num: int
    end_init_time: str
    stage1_err_num: int
    stage1_exec_err_num: int
    stage2_err_num: int
    stage2_unit_num: int
    stage2_unit_err_num: int
    stage2_unit_exec_err_num: int
    impo_bugs_num: int
    save_bug_err_num: int
    end_time: str


_TASK_RESULT_FIELDS = (
    ("startTime", "start_time", str),
    ("ddlSqlsNum", "ddl_sqls_num", int),
    ("dmlSqlsNum", "dml_sqls_num", int),
    ("endInitTime", "end_init_time", str),
    ("stage1ErrNum", "stage1_err_num", int),
    ("stage1ExecErrNum", "stage1_exec_err_num", int),
    ("stage2ErrNum", "stage2_err_num", int),
    ("stage2UnitNum", "stage2_unit_num", int),
    ("stage2UnitErrNum", "stage2_unit_err_num", int),
    ("stage2UnitExecErrNum", "stage2_unit_exec_err_num", int),
    ("impoBugsNum", "impo_bugs_num", int),
    ("saveBugErrNum", "save_bug_err_num", int),
    ("endTime", "end_time", str),
)


@dataclass(frozen=True, slots=True)
class PoolResult:
    """The pool's `result.json`. Empty id lists are written as `[]` [INFER: Go could also write null;
    the parser accepts both]."""

    start_time: str
    total_task_num: int
    finished_task_num: int
    error_task_num: int
    error_task_ids: tuple[int, ...]
    bugs_num: int
    bug_task_ids: tuple[int, ...]
    end_time: str


_POOL_RESULT_FIELDS = (
    ("startTime", "start_time", str),
    ("totalTaskNum", "total_task_num", int),
    ("finishedTaskNum", "finished_task_num", int),
    ("errorTaskNum", "error_task_num", int),
    ("errorTaskIds", "error_task_ids", list),
    ("bugsNum", "bugs_num", int),
    ("bugTaskIds", "bug_task_ids", list),
    ("endTime", "end_time", str),
)


@dataclass(frozen=True, slots=True)
class TaskConfig:
    """`task-<id>-config.json` as a pool writes it (note `rdGenPath`, and the plain-text password)."""

    output_path: str
    dbms: str
    task_id: int
    host: str
    port: int
    username: str
    password: str
    dbname: str
    seed: int
    ddl_path: str
    dml_path: str
    rd_gen_path: str
    zz_path: str
    yy_path: str
    queries_num: int
    need_dml: bool


_TASK_CONFIG_FIELDS = (
    ("outputPath", "output_path", str),
    ("dbms", "dbms", str),
    ("taskId", "task_id", int),
    ("host", "host", str),
    ("port", "port", int),
    ("username", "username", str),
    ("password", "password", str),
    ("dbname", "dbname", str),
    ("seed", "seed", int),
    ("ddlPath", "ddl_path", str),
    ("dmlPath", "dml_path", str),
    ("rdGenPath", "rd_gen_path", str),
    ("zzPath", "zz_path", str),
    ("yyPath", "yy_path", str),
    ("queriesNum", "queries_num", int),
    ("needDML", "need_dml", bool),
)


def _record_json(record: Any, spec: Sequence[tuple[str, str, type]]) -> str:
    return go_json({key: (list(v) if isinstance(v := getattr(record, attr), tuple) else v) for key, attr, _ in spec})


def _record_parse(text: str | bytes, spec: Sequence[tuple[str, str, type]], cls: type, what: str) -> Any:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError(f"{what}: not valid UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise FormatError(f"{what}: file is empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"{what}: invalid JSON: {exc.msg} (char {exc.pos})") from None
    if not isinstance(data, dict):
        raise FormatError(f"{what}: expected a JSON object, got {type(data).__name__}")
    values: dict[str, Any] = {}
    for key, attr, typ in spec:
        if key not in data:
            raise FormatError(f"{what}: missing field {key!r}")
        value = data[key]
        if typ is list:
            if value is None:
                value = ()
            elif isinstance(value, list) and all(type(v) is int for v in value):
                value = tuple(value)
            else:
                raise FormatError(f"{what}: field {key!r} must be a list of integers")
        elif type(value) is not typ:
            raise FormatError(f"{what}: field {key!r} must be {typ.__name__}, got {type(value).__name__}")
        values[attr] = value
    extra = sorted(set(data) - {key for key, _, _ in spec})
    if extra:
        raise FormatError(f"{what}: unexpected field(s) {', '.join(map(repr, extra))}")
    return cls(**values)


def bug_json(report: BugReport) -> str:
    """The bug `.json` text: compact Go JSON, fields in PINOLO's order, no trailing newline."""
    return (
        '{"reportTime":' + _go_json_string(report.report_time)
        + ',"bugId":' + str(report.bug_id)
        + ',"sqlId":' + str(report.sql_id)
        + ',"mutationName":' + _go_json_string(report.mutation_name)
        + ',"isUpper":' + ("true" if report.is_upper else "false")
        + ',"originalSql":' + _go_json_string(report.original_sql)
        + ',"mutatedSql":' + _go_json_string(report.mutated_sql)
        + "}"
    )


def parse_bug_json(text: str | bytes) -> BugReport:
    """Parse a bug `.json`; FormatError for empty/invalid/non-UTF-8 input or missing/mistyped fields.

    The mutation name is returned as written; use `is_known_mutation` to reject foreign names.
    """
    report: BugReport = _record_parse(text, _BUG_FIELDS, BugReport, "bug json")
    if report.bug_id < 0 or report.sql_id < 0:
        raise FormatError("bug json: bugId and sqlId must be non-negative")
    return report


def task_result_json(result: TaskResult) -> str:
    """A task `result.json` text."""
    return _record_json(result, _TASK_RESULT_FIELDS)


def parse_task_result(text: str | bytes) -> TaskResult:
    """Parse a task `result.json`; FormatError if it isn't one."""
    record: TaskResult = _record_parse(text, _TASK_RESULT_FIELDS, TaskResult, "task result.json")
    return record


def pool_result_json(result: PoolResult) -> str:
    """A pool `result.json` text."""
    return _record_json(result, _POOL_RESULT_FIELDS)


def parse_pool_result(text: str | bytes) -> PoolResult:
    """Parse a pool `result.json` (null id lists read as empty); FormatError if it isn't one."""
    record: PoolResult = _record_parse(text, _POOL_RESULT_FIELDS, PoolResult, "pool result.json")
    return record


def task_config_json(config: TaskConfig) -> str:
    """A `task-<id>-config.json` text."""
    return _record_json(config, _TASK_CONFIG_FIELDS)


def parse_task_config(text: str | bytes) -> TaskConfig:
    """Parse a task config; FormatError if it isn't one. The password comes back as written: redact it."""
    record: TaskConfig = _record_parse(text, _TASK_CONFIG_FIELDS, TaskConfig, "task config")
    return record


# ---------------------------------------------------------------------------------------------------------
# logrus TextFormatter lines (task.log, taskpool.log).

_LOGRUS_BARE = re.compile(r"^[A-Za-z0-9\-._/@^+]*$")


def _logrus_value(value: str) -> str:
    return value if _LOGRUS_BARE.match(value) else go_quote(value)


@dataclass(frozen=True, slots=True)
class LogLine:
    """One logrus line: the RFC3339 time text, the level and the message, unquoted."""

    time: str
    level: str
    msg: str


def logrus_line(when: GoTime, level: str, msg: str) -> str:
    """`time="<RFC3339>" level=<level> msg=<msg>` plus a newline; values `%q`-quoted only when needed."""
    return f"time={_logrus_value(when.rfc3339())} level={_logrus_value(level)} msg={_logrus_value(msg)}\n"


_LOGRUS_RE = re.compile(r'^time=("(?:[^"\\]|\\.)*"|\S*) level=(\S+) msg=("(?:[^"\\]|\\.)*"|\S*)$')


def parse_logrus_line(line: str) -> LogLine:
    """Parse one logrus line (trailing newline optional); FormatError if it isn't one."""
    m = _LOGRUS_RE.match(line.rstrip("\n"))
    if not m:
        raise FormatError(f"not a logrus line: {line[:80]!r}")

    def value(v: str) -> str:
        return go_unquote(v) if v.startswith('"') else v

    return LogLine(value(m.group(1)), m.group(2), value(m.group(3)))


# ---------------------------------------------------------------------------------------------------------
# Bug file names.


@dataclass(frozen=True, slots=True)
class BugFileName:
    """`bug-<bugId>-<sqlId>-<mutationName>.<ext>` split into its parts."""

    bug_id: int
    sql_id: int
    mutation_name: str
    ext: str

    @property
    def key(self) -> str:
        """`<bugId>-<sqlId>-<mutationName>`, shared by a bug's .json and .log."""
        return f"{self.bug_id}-{self.sql_id}-{self.mutation_name}"

    def __str__(self) -> str:
        return bug_file_name(self.bug_id, self.sql_id, self.mutation_name, self.ext)


def bug_file_name(bug_id: int, sql_id: int, mutation_name: str, ext: str) -> str:
    """The file name PINOLO uses for a bug's `json` or `log`."""
    if ext not in ("json", "log"):
        raise ValueError(f"bug file extension must be 'json' or 'log', got {ext!r}")
    return f"bug-{bug_id}-{sql_id}-{mutation_name}.{ext}"


_BUG_NAME_RE = re.compile(r"^bug-(0|[1-9]\d*)-(0|[1-9]\d*)-([A-Za-z][A-Za-z0-9]*)\.(json|log)$")


def parse_bug_file_name(name: str) -> BugFileName:
    """Split a bug file name; FormatError if it is not `bug-<int>-<int>-<Name>.json|.log`.

    The mutation name is checked for shape only; `is_known_mutation` says whether PINOLO could write it.
    """
    m = _BUG_NAME_RE.match(name)
    if not m:
        raise FormatError(f"not a PINOLO bug file name: {name!r} (expected bug-<bugId>-<sqlId>-<Name>.json|.log)")
    return BugFileName(int(m.group(1)), int(m.group(2)), m.group(3), m.group(4))
