"""Executing statements and pairs on a target: the guard, time limit, row cap, outcome and oracle.

`StatementRunner` owns one read-only connection. `execute` refuses anything but one SELECT/WITH statement
(the refusal is the outcome; the text is never sent), runs the rest under the target's per-statement time
limit and row cap, and returns the outcome with PINOLO's row multiset. `run_pairs` executes pairs'
original and mutated query `repeats` times and returns one log row per repeat.

When the connection dies, the runner reconnects and retries the statement once; a statement that loses the
connection twice is logged `connection_lost`. If the server does not come back, `ServerLost` stops the run:
the pair in flight is not logged, so a rerun executes it again.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import pymysql
from pymysql.constants import COMMAND

from .errors import ServerLost, TargetError
from .guard import statement_refusal
from .oracle import Outcome, oracle, result_digest, row_string
from .server import Endpoint
from .store import WORK_COLUMNS, now_utc
from .targets import Target, error_class

__all__ = ["StatementRunner", "WorkItem", "log_row_dict", "run_pairs"]

log = logging.getLogger(__name__)

# Client-side errors (2xxx), a killed connection (1927) and a shutting-down server (1053): the connection is
# gone, which says nothing about the statement.
_CONNECTION_ERRORS = {1053, 1927, 2002, 2003, 2006, 2013, 2055}
_RECONNECT_DELAYS_S = (0.2, 0.5, 1.0, 2.0)
# The client waits this much longer than the server's own limit before it gives up on a statement.
_CLIENT_TIMEOUT_MARGIN_S = 20.0
_REFUSAL_CACHE_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One pair in one form, to run in `database_name` (None: `no_database`, with the reason)."""

    pair_hash: str
    form: str
    strategy: str
    is_upper: bool
    original_sql: str
    mutated_sql: str
    database_name: str | None
    data_sql_hash: str | None
    no_database_reason: str | None = None


class _ConnectionLost(Exception):
    """The connection died under a statement (its cause is the driver's error)."""


class _Failed(Exception):
    """The statement failed on the server; `outcome` says how."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.error)
        self.outcome = outcome


class StatementRunner:
    """One connection to the target as the read-only account, with the session limits applied."""

    def __init__(self, endpoint: Endpoint, target: Target, timeout_s: float, row_cap: int) -> None:
        self.endpoint = endpoint
        self.target = target
        self.timeout_s = timeout_s
        self.row_cap = row_cap
        self._refusals: dict[str, str | None] = {}
        self._connection: pymysql.Connection | None = None
        self._database: str | None = None
        self.server_version = self._connect()

    def _connect(self) -> str:
        connection = self.endpoint.connect(read_timeout=self.timeout_s + _CLIENT_TIMEOUT_MARGIN_S, raw_cells=True)
        with connection.cursor() as cursor:
            for statement in self.target.session_statements(self.timeout_s, self.row_cap):
                try:
                    cursor.execute(statement)
                except pymysql.err.MySQLError as error:
                    connection.close()
                    raise TargetError(f"{self.target.name}: session setting {statement!r} failed: {error.args[-1]}") from None
            cursor.execute("SELECT @@sql_mode, VERSION()")
            sql_mode, version = cursor.fetchone()
        if "NO_BACKSLASH_ESCAPES" in (sql_mode or "").upper():
            connection.close()
            # The guard reads backslash escapes as MySQL does by default; with this mode it would misread.
            raise TargetError(f"{self.endpoint.describe()} runs with sql_mode NO_BACKSLASH_ESCAPES, which the guard does not read")
        self._connection = connection
        self._database = None
        return version

    @property
    def connection(self) -> pymysql.Connection:
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except pymysql.err.Error:
                pass
            self._connection = None

    def use(self, database: str) -> None:
        if database != self._database:
            try:
                self._connection.select_db(database)
            except pymysql.err.OperationalError as error:
                if error.args[0] in _CONNECTION_ERRORS:
                    self._reconnect(error)
                    self._connection.select_db(database)
                else:
                    raise TargetError(f"the read-only account cannot use {database}: {error.args[-1]}") from None
            self._database = database

    def refusal(self, sql: str) -> str | None:
        """Why `sql` may not be sent (None: it may), remembered per text for the repeats and shared originals."""
        try:
            return self._refusals[sql]
        except KeyError:
            if len(self._refusals) >= _REFUSAL_CACHE_LIMIT:
                self._refusals.clear()
            reason = self._refusals[sql] = statement_refusal(sql)
            return reason

    def execute(self, sql: str) -> Outcome:
        """Run one statement in the current database and return its outcome (never raises for the SQL's own
        failures; raises ServerLost when the server is gone)."""
        reason = self.refusal(sql)
        if reason is not None:
            return Outcome("refused", error=f"not executed: {reason}")
        try:
            return self._finish(self._run(sql))
        except _ConnectionLost as lost:
            return self._after_loss(sql, lost)

    def execute_all(self, statements: Sequence[tuple[str, str]]) -> list[Outcome]:
        """Execute (database, sql) statements in order, pipelined: while the server works on one statement,
        the client digests the previous result and guards the next text, so the bookkeeping hides in the
        server's time instead of adding to it. Same outcomes as `execute` one by one."""
        outcomes: list[Outcome | None] = [None] * len(statements)
        received: tuple[int, tuple, int, float] | None = None
        last = len(statements) - 1
        for index, (database, sql) in enumerate(statements):
            reason = self.refusal(sql)
            if reason is not None:
                outcomes[index] = Outcome("refused", error=f"not executed: {reason}")
                continue
            self.use(database)
            started = time.perf_counter()
            try:
                self._send(sql)
            except _ConnectionLost as lost:
                outcomes[index] = self._after_loss(sql, lost, database)
                continue
            if received is not None:
                outcomes[received[0]] = self._finish(received[1:])
                received = None
            if index < last:
                self.refusal(statements[index + 1][1])
            try:
                received = (index, *self._receive(started))
            except _ConnectionLost as lost:
                outcomes[index] = self._after_loss(sql, lost, database)
            except _Failed as failed:
                outcomes[index] = failed.outcome
        if received is not None:
            outcomes[received[0]] = self._finish(received[1:])
        return outcomes

    # Sending and receiving apart is what lets `execute_all` overlap work with the server. pymysql's
    # `Connection.query` is exactly `_execute_command(COM_QUERY, …)` then `_read_query_result()`.
    def _send(self, sql: str) -> None:
        try:
            self._connection._execute_command(COMMAND.COM_QUERY, sql.encode("utf-8", "surrogateescape"))
        except (pymysql.err.MySQLError, OSError) as error:
            raise _ConnectionLost() from error

    def _receive(self, started: float) -> tuple[tuple, int, float]:
        """(rows, column count, elapsed ms) of the statement in flight; _Failed or _ConnectionLost if none."""
        try:
            self._connection._read_query_result()
        except (pymysql.err.MySQLError, OSError) as error:
            raise self._failure(error, (time.perf_counter() - started) * 1000.0) from error
        result = self._connection._result
        return result.rows or (), len(result.description or ()), (time.perf_counter() - started) * 1000.0

    def _run(self, sql: str) -> tuple[tuple, int, float]:
        started = time.perf_counter()
        self._send(sql)
        try:
            return self._receive(started)
        except _Failed as failed:
            return failed.outcome

    def _failure(self, error: BaseException, elapsed_ms: float) -> Exception:
        code = _code(error)
        if "timed out" in _text(error) and elapsed_ms >= self.timeout_s * 1000.0:
            self._reconnect(error)  # the client gave up; the connection is unusable
            return _Failed(Outcome("timeout", error_code=code, error=_text(error), duration_ms=elapsed_ms))
        if code in _CONNECTION_ERRORS or isinstance(error, (pymysql.err.InterfaceError, OSError)):
            return _ConnectionLost()
        status = "timeout" if code in self.target.timeout_error_codes else "error"
        return _Failed(Outcome(status, error_code=code, error=_text(error), duration_ms=elapsed_ms))

    def _finish(self, received) -> Outcome:
        """The outcome of a received result: rows → PINOLO's row strings, their multiset and digest."""
        if isinstance(received, Outcome):
            return received
        rows, columns, elapsed_ms = received
        if len(rows) > self.row_cap:
            return Outcome("row_cap", error=f"more than {self.row_cap} rows", row_count=len(rows),
                           column_count=columns, duration_ms=elapsed_ms)
        strings = [row_string(row) for row in rows]
        return Outcome("ok", row_count=len(rows), column_count=columns, digest=result_digest(strings),
                       duration_ms=elapsed_ms, rows=Counter(strings))

    def _after_loss(self, sql: str, lost: _ConnectionLost, database: str | None = None) -> Outcome:
        """Reconnect (or raise ServerLost) and run `sql` once more; a second loss is its outcome."""
        self._reconnect(lost.__cause__)
        if database is not None:
            self.use(database)
        try:
            return self._finish(self._run(sql))
        except _ConnectionLost as again:
            error = again.__cause__
            self._reconnect(error)
            return Outcome("connection_lost", error_code=_code(error), error=_text(error))

    def _reconnect(self, cause: BaseException | None) -> None:
        self.close()
        last: Exception | None = None
        for delay in _RECONNECT_DELAYS_S:
            time.sleep(delay)
            try:
                self._connect()
                log.warning("reconnected to %s after: %s", self.endpoint.describe(), _text(cause))
                return
            except TargetError as error:
                last = error
        raise ServerLost(f"the server at {self.endpoint.describe()} went away ({_text(cause)}) and did not come "
                         f"back ({last}); rerun to continue where this run stopped")


def run_pairs(runner: StatementRunner, items: Sequence[WorkItem], repeats: int) -> list[dict]:
    """Execute every item `repeats` times in one pipelined stream; one log row per item and repeat."""
    statements = [
        (item.database_name, sql)
        for item in items
        if item.database_name is not None
        for _ in range(repeats)
        for sql in (item.original_sql, item.mutated_sql)
    ]
    outcomes = iter(runner.execute_all(statements))
    rows: list[dict] = []
    for item in items:
        if item.database_name is None:
            failed = Outcome("no_database", error=item.no_database_reason)
            rows.extend(_log_row(runner.target, item, repeat, failed, failed, None) for repeat in range(repeats))
            continue
        for repeat in range(repeats):
            original, mutated = next(outcomes), next(outcomes)
            rows.append(_log_row(runner.target, item, repeat, original, mutated,
                                 oracle(original, mutated, item.is_upper)))
    return rows


def _log_row(target: Target, item: WorkItem, repeat: int, original: Outcome, mutated: Outcome, verdict: str | None) -> tuple:
    """One log row, in `store.WORK_COLUMNS` order."""
    return (
        item.pair_hash, item.form, repeat,
        original.status, original.error_code, original.error, original.row_count, original.digest,
        original.duration_ms,
        mutated.status, mutated.error_code, mutated.error, mutated.row_count, mutated.digest, mutated.duration_ms,
        verdict, now_utc(), item.strategy, item.is_upper, item.database_name,
        item.data_sql_hash, original.column_count, mutated.column_count,
        error_class(original.status, original.error_code, original.error, target),
        error_class(mutated.status, mutated.error_code, mutated.error, target),
    )


def log_row_dict(row: tuple) -> dict:
    """A log row as {column: value}, for readers of `run_pairs`' output."""
    return dict(zip(WORK_COLUMNS, row))


def _code(error: BaseException | None) -> int | None:
    args = getattr(error, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _text(error: BaseException | None) -> str:
    if error is None:
        return "connection lost"
    args = getattr(error, "args", ())
    if len(args) >= 2:
        return str(args[1])
    return str(error) or type(error).__name__
