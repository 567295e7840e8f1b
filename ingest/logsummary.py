"""What ingest keeps of a bug `.log`: per result the columns, the row count, the duration and the error.

`mutations.formats.parse_bug_log` is the authority on the format; it also splits every row into cells,
which ingest does not store and which is most of its cost (about 24 µs of a 30 µs parse). `summarize`
first tries a fast reading that follows `parse_bug_log` step by step but only counts rows; at the first
thing it is not sure about it gives up and lets `parse_bug_log` decide (which raises `FormatError` with
its precise message, or returns the same summary). So the fast path can only ever accept what the strict
parser accepts, with the same result: tests/ingest/test_ingest_readers.py checks that on generated logs
and on thousands of damaged ones (test_ingest_logsummary_rows.py: the row numbering).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from mutations.formats import (
    RULE,
    BugLog,
    FormatError,
    QueryResult,
    parse_bug_log,
    parse_go_duration,
)

__all__ = ["FormatError", "LogSummary", "ResultSummary", "summarize"]

_HEADER_PREFIX = "ColumnName(ColumnType)s: "
_COLUMN_RE = re.compile(r"^(.+)\(([A-Za-z][A-Za-z0-9_ ]*)\)$")  # as in mutations.formats
# "row N:" at the start of a line after the first (the first line's "row 0: " is checked on its own): a
# pattern that starts with a literal lets the regex engine jump from one "\nrow " to the next, where
# "^row" (MULTILINE) tries every position (about 3x slower on a usual result).
_NEXT_ROW_RE = re.compile(r"\nrow (\d+):(.?)")
_OPEN = f"{RULE}\n[MutationName] "
_UPPER = f"{RULE}\n[IsUpper] "
_ORIGINAL = f"{RULE}\n[OriginalResult]\n"
_MUTATED = f"\n{RULE}\n[MutatedResult]\n"
_SQL = f"\n{RULE}\n\n-- OriginalSql\n"
_MUTATED_SQL = "\n-- MutatedSql\n"
# One-unit Go durations, the usual case ("1.234567ms", "850µs", "2.5s"); others go to parse_go_duration.
_SIMPLE_DURATION = re.compile(r"^(\d+)(?:\.(\d+))?(ms|\u00b5s|ns|s)$")
_UNIT_NS = {"ms": 1_000_000, "\u00b5s": 1_000, "ns": 1, "s": 1_000_000_000}


def _duration_ns(text: str) -> int:
    """parse_go_duration(text), computed the same way, without its general machinery for one unit."""
    match = _SIMPLE_DURATION.match(text)
    if match is None:
        return parse_go_duration(text)
    whole, fraction, unit = match.groups()
    scale = _UNIT_NS[unit]
    total = int(whole) * scale
    if fraction:
        total += int(fraction) * scale // (10 ** len(fraction))
    return total


class ResultSummary(NamedTuple):
    columns: tuple[tuple[str, str], ...]
    row_count: int
    duration: str
    duration_ms: float
    error: str | None


class LogSummary(NamedTuple):
    mutation_name: str
    is_upper: bool
    original: ResultSummary
    mutated: ResultSummary
    original_sql: str
    mutated_sql: str


@lru_cache(maxsize=512)
def _numbered_after_first(count: int) -> list[tuple[str, str]]:
    """What _NEXT_ROW_RE finds in rows 1..count-1 numbered in order, each with a space after the colon."""
    return [(str(index), " ") for index in range(1, count)]


def _from_result(result: QueryResult) -> ResultSummary:
    return ResultSummary(result.columns, len(result.rows), result.duration,
                         parse_go_duration(result.duration) / 1e6, result.error)


def _from_log(log: BugLog) -> LogSummary:
    return LogSummary(log.mutation_name, log.is_upper, _from_result(log.original), _from_result(log.mutated),
                      log.original_sql, log.mutated_sql)


@lru_cache(maxsize=4096)
def _header(header: str) -> tuple[tuple[str, str], ...] | None:
    """The (name, type) columns of a result header line, or None where the strict parser would raise."""
    if not header.startswith(_HEADER_PREFIX):
        return None
    rest = header[len(_HEADER_PREFIX):]
    columns: list[tuple[str, str]] = []
    if rest:
        if rest[0] != " ":
            return None
        for chunk in rest[1:].split(" "):
            match = _COLUMN_RE.match(chunk)
            if match is None:
                return None
            columns.append((match.group(1), match.group(2)))
    return tuple(columns)


def _fast_result(text: str, start: int, end: int) -> ResultSummary | None:
    """The result block text[start:end], read without copying it; None where unsure."""
    newline = text.find("\n", start, end)
    if newline < 0:
        return None
    columns = _header(text[start:newline])
    if columns is None:
        return None
    # parse_bug_log: tail = lines after the header; the last one is the duration, an "Error: " line may
    # precede it (or follow it), and what remains (text[first:last]) are the rows.
    first = newline + 1
    cut = text.rfind("\n", first, end)
    duration = text[cut + 1 if cut >= 0 else first:end]
    last = cut  # -1: no line left
    error: str | None = None
    if last >= 0 and duration.startswith("Error: "):
        error = duration[len("Error: "):]
        cut = text.rfind("\n", first, last)
        duration = text[cut + 1 if cut >= 0 else first:last]
        last = cut
    try:
        nanoseconds = _duration_ns(duration)
    except FormatError:
        return None
    if error is None and last >= 0:
        cut = text.rfind("\n", first, last)
        line_start = cut + 1 if cut >= 0 else first
        if text.startswith("Error: ", line_start, last):
            error = text[line_start + len("Error: "):last]
            last = cut
    rows = 0
    if last >= 0:
        # The common case only: rows numbered 0..n-1, each with a space after the colon, and no other line
        # starting with "row N:". Anything else (continuation lines that look like rows, leading zeros, a
        # row without cells) is left to the strict parser.
        if not columns or not text.startswith("row 0: ", first, last):
            return None
        # Same as "^row (\d+):(.?)" (MULTILINE) found from `first`: the first line is "row 0: " (checked
        # above), and every later line start is a "\n" before it within the block.
        found = _NEXT_ROW_RE.findall(text, first, last)
        rows = len(found) + 1
        if found != _numbered_after_first(rows):
            return None
    return ResultSummary(columns, rows, duration, nanoseconds / 1e6, error)


def _fast(text: str) -> LogSummary | None:
    if not text.startswith(_OPEN):
        return None
    pos = len(_OPEN)
    end = text.find("\n", pos)
    if end <= pos:
        return None
    name = text[pos:end]
    pos = end + 1
    if not text.startswith(_UPPER, pos):
        return None
    pos += len(_UPPER)
    end = text.find("\n", pos)
    if end < 0:
        return None
    upper = text[pos:end]
    if upper not in ("true", "false"):
        return None
    pos = end + 1
    if not text.startswith(_ORIGINAL, pos):
        return None
    pos += len(_ORIGINAL)
    end = text.find(_MUTATED, pos)
    if end < 0:
        return None
    original = _fast_result(text, pos, end)
    if original is None:
        return None
    pos = end + len(_MUTATED)
    end = text.find(_SQL, pos)
    if end < 0:
        return None
    mutated = _fast_result(text, pos, end)
    if mutated is None:
        return None
    pos = end + len(_SQL)
    end = text.find(_MUTATED_SQL, pos)
    if end < 0:
        return None
    original_sql = text[pos:end]
    mutated_sql = text[end + len(_MUTATED_SQL):]
    if not original_sql.endswith(";") or not mutated_sql.endswith(";\n"):
        return None
    return LogSummary(name, upper == "true", original, mutated, original_sql[:-1], mutated_sql[:-2])


def summarize(text: str) -> LogSummary:
    """The summary of a bug `.log`; FormatError (from `parse_bug_log`) naming what is wrong if it isn't one."""
    summary = _fast(text)
    if summary is not None:
        return summary
    return _from_log(parse_bug_log(text))
