"""Exceptions raised by the mutations library. The CLI runner is the only place that turns them into exit codes.

Each is about its input (SQL we cannot read, a strategy name PINOLO does not have): a usage or input error,
exit 2. Findings about well-formed input (a pair that does not conform) are verdicts, never exceptions.
"""

from __future__ import annotations

from pinoloft_base.errors import EXIT_USAGE, PinoloftError


class MutationsError(PinoloftError):
    """Base class for every error this package raises on purpose."""

    exit_code = EXIT_USAGE


class SqlSyntaxError(MutationsError):
    """SQL text we cannot tokenize or parse; carries the character offset so the message points at it."""

    def __init__(self, message: str, sql: str, offset: int) -> None:
        self.sql = sql
        self.offset = offset
        line = sql.count("\n", 0, offset) + 1
        column = offset - (sql.rfind("\n", 0, offset) + 1) + 1
        excerpt = sql[max(0, offset - 20) : offset + 20].replace("\n", " ")
        super().__init__(f"{message} at line {line}, column {column} (char {offset}): …{excerpt}…")
        self.reason = message


class UnknownStrategyError(MutationsError):
    """A strategy name that is not one of PINOLO's 18 mutators."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown strategy {name!r}: expected one of PINOLO's 18 mutator names")
        self.name = name
