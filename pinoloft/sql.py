"""Ad-hoc SQL on the warehouse: read-only queries and their results as a table, CSV, JSON or Markdown.

The warehouse is opened read-only, so a query can never change it, and any number of readers may run beside
each other (but not beside a writing stage: DuckDB allows one writing process or many readers).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from pinoloft_base.errors import PinoloftError
from pinoloft_base.warehouse import connect

__all__ = ["FORMATS", "QueryResult", "SqlError", "open_read_only", "render", "repl", "run_query"]

FORMATS = ("table", "csv", "json", "markdown")
NULL = "NULL"


class SqlError(PinoloftError):
    """The query failed (DuckDB's message: a syntax error, an unknown table or column, a write refused…):
    an input error, exit 2."""


@dataclass(frozen=True, slots=True)
class QueryResult:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def open_read_only(warehouse: str | os.PathLike[str]) -> duckdb.DuckDBPyConnection:
    """The warehouse opened read-only: a query can never change it (WarehouseError when missing or busy)."""
    return connect(warehouse, read_only=True)


def run_query(con: duckdb.DuckDBPyConnection, sql: str) -> QueryResult:
    """The result of the last statement of `sql` (a statement without a result gives no columns)."""
    try:
        cursor = con.execute(sql)
        description = cursor.description
        rows = cursor.fetchall() if description else []
    except duckdb.Error as error:
        raise SqlError(str(error).strip()) from None
    return QueryResult(tuple(column[0] for column in description or ()), rows)


def _cell(value: Any) -> str:
    return NULL if value is None else str(value)


def render(result: QueryResult, format: str) -> str:
    """The result as text in `format` (one of FORMATS), ending with a newline."""
    if format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([["" if value is None else value for value in row] for row in result.rows])
        return buffer.getvalue()
    if format == "json":
        objects = [dict(zip(result.columns, row)) for row in result.rows]
        return json.dumps(objects, ensure_ascii=False, default=str, indent=1) + "\n"
    cells = [[_cell(value).replace("\n", "\\n") for value in row] for row in result.rows]
    if format == "markdown":
        def line(values: Sequence[str]) -> str:
            return "| " + " | ".join(value.replace("|", "\\|") for value in values) + " |"
        lines = [line(result.columns), "|" + "|".join("---" for _ in result.columns) + "|"]
        return "\n".join(lines + [line(row) for row in cells]) + "\n"
    if format != "table":
        raise ValueError(f"unknown format {format!r}: one of {', '.join(FORMATS)}")
    if not result.columns:
        return "(no result)\n"
    widths = [max([len(name)] + [len(row[index]) for row in cells]) for index, name in enumerate(result.columns)]
    numeric = [bool(result.rows) and all(isinstance(row[index], (int, float)) or row[index] is None
                                          for row in result.rows) for index in range(len(result.columns))]

    def aligned(values: Sequence[str]) -> str:
        return "  ".join(value.rjust(width) if right else value.ljust(width)
                         for value, width, right in zip(values, widths, numeric)).rstrip()

    lines = [aligned(result.columns), "  ".join("-" * width for width in widths)]
    lines += [aligned(row) for row in cells]
    lines.append(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})")
    return "\n".join(lines) + "\n"


PROMPT, CONTINUATION = "pinoloft> ", "     ...> "


def repl(con: duckdb.DuckDBPyConnection, format: str, read_line: Callable[[str], str],
         write: Callable[[str], None]) -> int:
    """An interactive prompt: a query may span lines and ends with `;`; `.quit`, `.exit` or end of input
    leaves. A failing query prints its error and the prompt goes on. Returns how many queries failed."""
    failed = 0
    pending: list[str] = []
    while True:
        try:
            line = read_line(CONTINUATION if pending else PROMPT)
        except EOFError:
            write("\n")
            break
        except KeyboardInterrupt:  # Ctrl-C drops the query being typed, as a shell does
            write("\n")
            pending = []
            continue
        if not pending and line.strip() in (".quit", ".exit"):
            break
        if not pending and not line.strip():
            continue
        pending.append(line)
        if not line.rstrip().endswith(";"):
            continue
        sql, pending = "\n".join(pending), []
        try:
            write(render(run_query(con, sql), format))
        except SqlError as error:
            failed += 1
            write(f"error: {error}\n")
    return failed
