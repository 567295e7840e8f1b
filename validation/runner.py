"""Executing statements and pairs on a target: the guard, time limit, row cap, outcome and oracle.

`StatementRunner` owns one read-only connection. `execute` refuses anything but one SELECT/WITH statement
(the refusal is the outcome; the text is never sent), runs the rest under the target's per-statement time
limit, a row cap and a byte cap, and returns the outcome with PINOLO's row multiset. `run_pairs` executes
pairs' original and mutated query `repeats` times and returns one log row per repeat.

Rows are read as they arrive, never buffered whole: the session's `sql_select_limit` is only a hint (an
explicit LIMIT in the statement overrides it), so the client itself stops at cap + 1 rows or past the
byte cap, logs `row_cap`, and drops the connection to cancel the statement (see `_stop`). A statement the
time limit stopped is `timeout` even when the server answered it with a normal-looking row (MariaDB's
BENCHMARK does): a result that took about as long as the limit is checked against the server's counter of
statements the limit stopped.

When the connection dies, the runner reconnects and retries the statement once; a statement that loses the
connection twice is logged `connection_lost`. If the server does not come back, `ServerLost` stops the run:
the pair in flight is not logged, so a rerun executes it again.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Iterator, NamedTuple, Sequence

import pymysql
from pymysql.connections import MAX_PACKET_LEN, MysqlPacket
from pymysql.constants import COMMAND, CR

from mutations.oracle import Outcome, oracle, result_digest, row_string

from .errors import ServerLost, TargetError
from .guard import statement_refusal
from .server import Endpoint
from .store import WORK_COLUMNS, now_utc
from .targets import Target, error_class

__all__ = ["DEFAULT_BYTE_CAP", "StatementRunner", "WorkItem", "log_row_dict", "run_pairs"]

log = logging.getLogger(__name__)

# Client-side errors (2xxx), a killed connection (1927) and a shutting-down server (1053): the connection is
# gone, which says nothing about the statement.
_CONNECTION_ERRORS = {1053, 1927, 2002, 2003, 2006, 2013, 2055}
_RECONNECT_DELAYS_S = (0.2, 0.5, 1.0, 2.0)
# The client waits this much longer than the server's own limit before it gives up on a statement.
_CLIENT_TIMEOUT_MARGIN_S = 20.0
_REFUSAL_CACHE_LIMIT = 100_000
# Row data one result may bring (the sum of its row packets): far above a PINOLO result (a few KB), far below
# what would strain a worker.
DEFAULT_BYTE_CAP = 64 * 1024 * 1024
# A result that took this share of the time limit or more is checked against the server's counter of
# statements the limit stopped (`_limit_fired`); faster results cannot have been stopped by it.
_SLOW_SHARE = 0.9
# `execute_each`'s phases: at most this many statements, and it stops taking more once the undecoded row data
# it holds passes `_PHASE_BYTES` (a PINOLO result is a few KB: a phase is almost always its statements).
_PHASE_STATEMENTS = 128
_PHASE_BYTES = 8 * 1024 * 1024
# MariaDB's and MySQL's per-session counters of statements the time limit stopped.
_LIMIT_COUNTER_QUERY = r"SHOW SESSION STATUS LIKE 'Max\_%\_time\_exceeded'"
# sql_mode flags under which the server reads quotes or backslashes differently from the guard, which reads
# text with MySQL's default rules (ANSI, ORACLE, MSSQL, DB2, POSTGRESQL and MAXDB imply ANSI_QUOTES).
_FOREIGN_QUOTING_MODES = frozenset({"ANSI_QUOTES", "NO_BACKSLASH_ESCAPES", "ORACLE", "MSSQL", "DB2", "POSTGRESQL",
                                    "MAXDB", "ANSI"})


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

    def __reduce__(self) -> tuple:
        # Units of work cross to the worker processes pickled: as its fields, an item takes half the CPU to
        # pickle and unpickle that a frozen slots dataclass's default (state as a dict) does.
        return WorkItem, (self.pair_hash, self.form, self.strategy, self.is_upper, self.original_sql,
                          self.mutated_sql, self.database_name, self.data_sql_hash, self.no_database_reason)


class _ConnectionLost(Exception):
    """The connection died under a statement (its cause is the driver's error)."""


class _Received(NamedTuple):
    """A result read to its end: its row packets, not yet decoded, and what decodes them."""

    packets: list[bytes]
    result: pymysql.connections.MySQLResult
    columns: int
    elapsed_ms: float
    size: int  # bytes of row data in `packets`


class _Failed(Exception):
    """The statement ended without a result to digest (it failed, or a cap or the time limit stopped it);
    `outcome` says how."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.error)
        self.outcome = outcome


class StatementRunner:
    """One connection to the target as the read-only account, with the session limits applied."""

    def __init__(self, endpoint: Endpoint, target: Target, timeout_s: float, row_cap: int,
                 byte_cap: int = DEFAULT_BYTE_CAP) -> None:
        self.endpoint = endpoint
        self.target = target
        self.timeout_s = timeout_s
        self.row_cap = row_cap
        self.byte_cap = byte_cap
        self._slow_ms = timeout_s * 1000.0 * _SLOW_SHARE
        self._refusals: dict[str, str | None] = {}
        self._connection: pymysql.Connection | None = None
        self._database: str | None = None
        # The server's count of statements the time limit stopped on this connection (None: it has none).
        self._limit_hits: int | None = None
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
        # Checked after the session statements: the mode they pin wins over the server's default.
        foreign = sorted(_FOREIGN_QUOTING_MODES.intersection((sql_mode or "").upper().split(",")))
        if foreign:
            connection.close()
            # The guard reads quotes and backslash escapes with MySQL's default rules; under these modes the
            # server reads the same text differently (a "…" identifier, a backslash that escapes nothing).
            raise TargetError(f"{self.endpoint.describe()} runs with sql_mode {','.join(foreign)}, which the guard "
                              f"does not read: pin sql_mode in the target's session statements")
        self._connection = connection
        self._database = None
        self._limit_hits = self._read_limit_hits()
        return version

    def _read_limit_hits(self) -> int | None:
        """The server's count of statements the time limit stopped on this connection; None where the server
        keeps no such count (then a stopped statement that returns a row cannot be told apart)."""
        try:
            with self._connection.cursor() as cursor:
                cursor.execute(_LIMIT_COUNTER_QUERY)
                counts = cursor.fetchall()
        except pymysql.err.MySQLError:
            return None
        return sum(int(value) for _, value in counts) if counts else None

    def _limit_fired(self) -> bool:
        """Whether the time limit stopped a statement since the last look (which this look becomes)."""
        before, self._limit_hits = self._limit_hits, self._read_limit_hits()
        return before is not None and self._limit_hits is not None and self._limit_hits > before

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
        """Execute (database, sql) statements in order, in phases (see `execute_each`). Same outcomes as
        `execute` one by one."""
        return list(self.execute_each(statements))

    def execute_each(self, statements: Sequence[tuple[str, str]]) -> Iterator[Outcome]:
        """Execute (database, sql) statements in order, in phases of up to `_PHASE_STATEMENTS`: guard the
        phase's texts, then send and receive its statements one after another, keeping each result's rows as
        packets, then decode and digest those results. Yields each outcome in order, only while no statement
        is in flight, so a caller may drop each result's rows once it has used them.

        Why phases: the client sleeps in every receive while the server works, and on a busy machine the
        server's work evicts the client's code and data from the caches. Guarding, reading and digesting
        interleaved statement by statement each ran cold after every sleep, which cost about as much CPU again
        as the work itself (measured: ~100 µs per PINOLO statement against ~70 µs for the same three steps in
        separate loops). The phase's undecoded rows are bounded by `_PHASE_BYTES` (plus the one result that
        crossed it, itself within the byte cap)."""
        total = len(statements)
        start = 0
        while start < total:
            stop = min(start + _PHASE_STATEMENTS, total)
            reasons = [self.refusal(sql) for _, sql in statements[start:stop]]
            results: list[_Received | Outcome] = []
            held = 0
            for (database, sql), reason in zip(statements[start:stop], reasons):
                if reason is not None:
                    results.append(Outcome("refused", error=f"not executed: {reason}"))
                    continue
                self.use(database)
                started = time.perf_counter()
                try:
                    self._send(sql)
                    received = self._receive(started)
                except _ConnectionLost as lost:
                    results.append(self._after_loss(sql, lost, database))
                except _Failed as failed:
                    results.append(failed.outcome)
                else:
                    results.append(received)
                    held += received.size
                    if held > _PHASE_BYTES:
                        break
            start += len(results)
            for index, result in enumerate(results):
                results[index] = None  # (this phase's list no longer keeps the rows alive)
                yield self._finish(result)

    # Sending and receiving apart is what lets `execute_each` read results without decoding them. pymysql's
    # `Connection.query` is `_execute_command(COM_QUERY, …)` then `_read_query_result()`; rows are read here
    # packet by packet (`_read_rows`) instead of all at once.
    def _send(self, sql: str) -> None:
        try:
            self._connection._execute_command(COMMAND.COM_QUERY, sql.encode("utf-8", "surrogateescape"))
        except (pymysql.err.MySQLError, OSError) as error:
            raise _ConnectionLost() from error

    def _receive(self, started: float) -> _Received:
        """The result of the statement in flight, its rows still as packets; _Failed (an error, a cap, the
        time limit) or _ConnectionLost if none. Nothing is in flight afterwards."""
        connection = self._connection
        try:
            result = _read_result_head(connection)
            packets, size, stopped_by = self._read_rows(connection, result) if result.unbuffered_active else ([], 0, None)
        except (pymysql.err.MySQLError, OSError) as error:
            raise self._failure(error, (time.perf_counter() - started) * 1000.0) from error
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        columns = result.field_count
        if stopped_by is not None:
            self._stop()
        if stopped_by is not None or len(packets) > self.row_cap:
            # cap + 1 rows then EOF: sql_select_limit stopped the statement on the server, nothing to cancel.
            raise _Failed(Outcome("row_cap", error=stopped_by or f"more than {self.row_cap} rows",
                                  row_count=len(packets), column_count=columns, duration_ms=elapsed_ms))
        if elapsed_ms >= self._slow_ms and self._limit_fired():
            # MariaDB ends some statements the limit stops (BENCHMARK, …) with a row and no error or warning.
            raise _Failed(Outcome("timeout", error="the statement time limit stopped the statement, which "
                                  "returned an incomplete result", row_count=len(packets), column_count=columns,
                                  duration_ms=elapsed_ms))
        return _Received(packets, result, columns, elapsed_ms, size)

    def _read_rows(self, connection: pymysql.Connection, result) -> tuple[list[bytes], int, str | None]:
        """Read the row packets of an unbuffered result up to its EOF: (packets, their bytes, None). When a row
        comes after cap + 1 rows, or the next row packet would bring the row data past the byte cap, stop
        reading and leave the statement in flight for `_stop` to cancel: (the packets kept, the bytes read,
        which cap stopped it).
        Rows stay packets (their bytes and 33 more each) until `_finish` decodes them, so the byte cap bounds
        their memory, and decoding runs in one loop over a phase's results (see `execute_each`). Server errors raise
        as pymysql's exceptions."""
        row_cap, byte_cap = self.row_cap, self.byte_cap
        packets: list[bytes] = []
        received = 0
        while True:
            data = _read_payload(connection, byte_cap - received)
            if data is not None:
                first = data[0]
                if first == 0xFE and len(data) < 9:  # EOF: a row that starts with 0xFE is 9 bytes or more
                    result._check_packet_is_eof(MysqlPacket(data, connection.encoding))
                    result.unbuffered_active = False
                    result.connection = None
                    return packets, received, None
                if first == 0xFF:
                    result.unbuffered_active = False
                    result.connection = None
                    pymysql.err.raise_mysql_exception(data)
                received += len(data)
            if data is None or received > byte_cap:
                stopped_by = f"more than {byte_cap} bytes of rows"
            elif len(packets) > row_cap:
                # A row after cap + 1: an explicit LIMIT in the statement overrode sql_select_limit.
                stopped_by = f"more than {row_cap} rows"
            else:
                packets.append(data)
                continue
            result.unbuffered_active = False  # nothing more is read from this result: see _stop
            result.connection = None
            return packets, received, stopped_by

    def _stop(self) -> None:
        """Cancel the statement in flight by dropping its connection, and connect again.

        Why not KILL QUERY from a second connection: the rows already sent (socket buffers, the server's net
        buffer, the rest of a huge row) would still have to be read and thrown away, and a KILL that arrives
        after the statement ended may hit nothing or, on some servers, the next statement. A dropped
        connection reads nothing more, races with nothing, needs no second connection and works on every
        target: the server, writing rows to a closed socket, ends the statement at once (its thread leaves
        the process list within milliseconds). The cost, a new login and the session statements, is paid
        only by the rare statement that exceeds a cap."""
        database = self._database
        self.close()
        try:
            self._connect()
        except TargetError as error:
            self._reconnect(error)
        if database is not None:
            self.use(database)

    def _run(self, sql: str) -> _Received | Outcome:
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
        if code in self.target.timeout_error_codes:
            self._limit_hits = self._read_limit_hits()  # it counted this statement: the next look starts here
            return _Failed(Outcome("timeout", error_code=code, error=_text(error), duration_ms=elapsed_ms))
        return _Failed(Outcome("error", error_code=code, error=_text(error), duration_ms=elapsed_ms))

    def _finish(self, received: _Received | Outcome) -> Outcome:
        """The outcome of a received result: row packets → cells → PINOLO's row strings, their multiset and
        digest."""
        if isinstance(received, Outcome):
            return received
        result = received.result
        strings: list[str] = []
        if received.packets:  # (a statement without a result set has no converters)
            encodings = [encoding for encoding, converter in result.converters if converter is None]
            if len(encodings) == len(result.converters):
                strings = [_row_text(packet, encodings) or _slow_row_text(result, packet) for packet in received.packets]
            else:  # cells converted to values: pymysql's reader alone knows how
                strings = [_slow_row_text(result, packet) for packet in received.packets]
        return Outcome("ok", row_count=len(strings), column_count=received.columns, digest=result_digest(strings),
                       duration_ms=received.elapsed_ms, rows=Counter(strings))

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
    """Execute every item `repeats` times in one stream (`execute_each`); one log row per item and repeat."""
    statements = [
        (item.database_name, sql)
        for item in items
        if item.database_name is not None
        for _ in range(repeats)
        for sql in (item.original_sql, item.mutated_sql)
    ]
    outcomes = runner.execute_each(statements)
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
            # The multisets served the oracle: a chunk keeps only its log rows, not every result it ran.
            original.rows = mutated.rows = None
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


# pymysql's MySQLResult reads each column's definition into a FieldDescriptorPacket (six strings parsed, four
# decoded, a PEP 249 description built): a third of the client's time on PINOLO's short results. The runner
# needs only each column's cell encoding, which `_read_result_head` reads straight from the packet, as
# `MySQLResult._get_descriptions` derives it (cells stay text: the connection has no converters).
_TEXT_TYPES = frozenset(pymysql.connections.TEXT_TYPES)
_JSON = pymysql.constants.FIELD_TYPE.JSON


def _read_result_head(connection: pymysql.Connection) -> pymysql.connections.MySQLResult:
    """`connection._read_query_result(unbuffered=True)` for a connection without converters: the result's
    first packet and column definitions read, its rows left for `_read_rows`. The result's `converters` are
    what pymysql's would be; `description` and `fields` are not filled (nothing here reads them)."""
    if connection.decoders or not connection.use_unicode:
        connection._read_query_result(unbuffered=True)  # converters to apply: pymysql's own way
        return connection._result
    connection._result = None
    result = pymysql.connections.MySQLResult(connection)
    first = connection._read_packet()
    if first.is_ok_packet():
        result.connection = None
        result._read_ok_packet(first)
    elif first.is_load_local_packet():
        try:
            result._read_load_local_packet(first)
        finally:
            result.connection = None
    else:
        result.field_count = first.read_length_encoded_integer()
        encoding = connection.encoding
        converters = []
        for _ in range(result.field_count):
            charset, field_type = _column_charset_and_type(_read_definition(connection), encoding)
            if field_type == _JSON:
                converters.append((encoding, None))
            elif field_type in _TEXT_TYPES:
                converters.append((None if charset == 63 else encoding, None))
            else:
                converters.append(("ascii", None))
        result.converters = converters
        eof = _read_definition(connection)
        assert eof[0] == 0xFE and len(eof) < 9, "Protocol error, expecting EOF"  # MysqlPacket.is_eof_packet
        result.affected_rows = 18446744073709551615
        result.unbuffered_active = True
    connection._result = result
    if result.server_status is not None:
        connection.server_status = result.server_status
    return result


def _read_definition(connection: pymysql.Connection) -> bytes:
    """A column definition's (or the EOF after them) payload, as `connection._read_packet()._data` reads it
    (the read timeout is set: the result's first packet came through `_read_packet`) but without building a
    packet object; an error packet in its place raises as there."""
    data = _read_payload(connection, _NO_BUDGET)
    if data[0] == 0xFF:  # (never seen after a result set header, but pymysql's reader would raise it)
        MysqlPacket(data, connection.encoding).raise_for_error()
    return data


_NO_BUDGET = 1 << 62  # a budget no payload reaches: `_read_payload` returns every payload


def _column_charset_and_type(data: bytes, encoding: str) -> tuple[int, int]:
    """(charsetnr, type code) of a column definition packet: six length-coded strings (catalog, schema,
    table, original table, name, original name), then 0x0c, charsetnr (2 bytes), length (4), type (1)."""
    position = 0
    for _ in range(6):
        length = data[position]
        if length >= 251:  # NULL or a long name: pymysql's parser (and its errors, if any)
            field = pymysql.protocol.FieldDescriptorPacket(data, encoding)
            return field.charsetnr, field.type_code
        position += 1 + length
    if position + 10 > len(data):
        field = pymysql.protocol.FieldDescriptorPacket(data, encoding)
        return field.charsetnr, field.type_code
    return data[position + 1] | data[position + 2] << 8, data[position + 7]


def _row_text(packet: bytes, encodings: list[str | None]) -> str | None:
    """PINOLO's row string (`row_string`) of a text-protocol row packet whose cells are all shorter than 251
    bytes (one length byte) or NULL, decoded as pymysql decodes them; None for any other packet, which
    `_slow_row_text` reads."""
    cells = []
    position = 0
    end = len(packet)
    for encoding in encodings:
        if position >= end:  # fewer cells than columns: pymysql's reader stops there too
            break
        length = packet[position]
        if length < 251:
            position += 1
            cell = packet[position : position + length]
            if len(cell) != length:
                return None
            position += length
            cells.append(cell.decode(encoding) if encoding is not None else cell.decode("utf-8", "surrogateescape"))
        elif length == 251:
            position += 1
            cells.append("NULL")
        else:
            return None
    # (An empty row string is falsy: the caller reads it again the slow way, which gives the same "".)
    return ",".join(cells)


def _slow_row_text(result: pymysql.connections.MySQLResult, packet: bytes) -> str:
    # (MysqlPacket ignores its encoding argument: the result's converters carry the cells' encodings.)
    return row_string(result._read_row_from_packet(MysqlPacket(packet, None)))


def _read_payload(connection: pymysql.Connection, budget: int) -> bytes | None:
    """The next packet's payload, read as pymysql's `_read_packet` does (sequence check, a payload of 16 MiB
    or more joined from its parts), but None, with its body left unread, when it is longer than `budget`
    bytes and so cannot be an EOF packet: a single huge row never reaches memory."""
    read = connection._read_bytes
    parts: list[bytes] = []
    total = 0
    while True:
        header = read(4)
        length = header[0] | header[1] << 8 | header[2] << 16
        sequence = header[3]
        if sequence != connection._next_seq_id:
            connection._force_close()
            if sequence == 0:  # MariaDB sends its shutdown error with sequence number 0
                raise pymysql.err.OperationalError(CR.CR_SERVER_LOST, "Lost connection to MySQL server during query")
            raise pymysql.err.InternalError(f"Packet sequence number wrong - got {sequence} expected "
                                            f"{connection._next_seq_id}")
        connection._next_seq_id = (sequence + 1) % 256
        total += length
        if total > budget and total >= 9:
            return None
        if length < MAX_PACKET_LEN and not parts:
            return read(length)
        parts.append(read(length))
        if length < MAX_PACKET_LEN:
            return b"".join(parts)


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
