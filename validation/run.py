"""A validation run: the pairs in scope, executed on a target, logged to the warehouse, resumable.

The unit of work is a pair in one form (a *pair-form*) with all its repeats. Finished pair-forms are
committed in batches, each batch one transaction together with the run's counters, so the log never holds
half a pair-form. A rerun with the same target, server version and settings skips every pair-form already
logged and continues an unfinished run under its id: an interrupted run (Ctrl-C, a killed server, a killed
process) loses only uncommitted work and nothing is logged twice.
"""

from __future__ import annotations

import gc
import hashlib
import importlib.abc
import json
import logging
import multiprocessing
import multiprocessing.pool
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import duckdb

from pinoloft_base.console import progress_bar
from pinoloft_base.warehouse import connect

from .databases import DatabaseLoader, database_name
from .errors import DataSqlError, ServerLost, TargetError, ValidationError
from .runner import DEFAULT_BYTE_CAP, StatementRunner, WorkItem, run_pairs
from .scope import Scope, ScopedPair, plan_scope, scope_work
from .server import Endpoint, account_grants
from .store import LogBatch, append_batches, ensure_tables, log_batch, now_utc
from .targets import Target, load_target

__all__ = ["RunReport", "RunSettings", "check_read_only", "validate"]

log = logging.getLogger(__name__)

_CHUNK = 16  # pair-forms per unit of work handed to a worker
_FLUSH_ROWS = 2000
_FLUSH_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class RunSettings:
    target: str = "mariadb"
    repeats: int = 3
    timeout_s: float = 10.0
    row_cap: int = 100_000
    jobs: int = 1
    fresh: bool = False
    byte_cap: int = DEFAULT_BYTE_CAP  # most bytes of row data one result may bring (the row cap's twin)

    def __post_init__(self) -> None:
        if self.repeats < 1:
            raise ValidationError("repeats must be at least 1")
        if self.timeout_s <= 0:
            raise ValidationError("the statement time limit must be positive")
        if self.row_cap < 1:
            raise ValidationError("the row cap must be at least 1")
        if self.byte_cap < 1:
            raise ValidationError("the byte cap must be at least 1")
        if self.jobs < 1:
            raise ValidationError("jobs must be at least 1")

    def settings_hash(self, target: Target) -> str:
        settings = [self.repeats, self.timeout_s, self.row_cap, target.fingerprint(), self.byte_cap]
        return hashlib.sha256(json.dumps(settings).encode()).hexdigest()


@dataclass
class RunReport:
    validation_run_id: int
    resumed: bool
    target: str
    server_version: str
    endpoint: str
    scope: str
    pair_forms_planned: int
    pair_forms_skipped: int
    pair_forms_done: int
    statements_executed: int
    statements_refused: int
    seconds: float
    status: str
    outcomes: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[str, int]] = field(default_factory=list)

    def describe(self) -> str:
        rate = self.statements_executed / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"validation run {self.validation_run_id} ({'resumed' if self.resumed else 'new'}) on {self.target} "
            f"{self.server_version} at {self.endpoint}, scope {self.scope}: {self.status}",
            f"pair-forms planned {self.pair_forms_planned} = done {self.pair_forms_done} + skipped (done before) "
            f"{self.pair_forms_skipped} + left {self.pair_forms_planned - self.pair_forms_done - self.pair_forms_skipped}",
            f"statements executed {self.statements_executed} in {self.seconds:.1f}s ({rate:,.0f}/s), "
            f"refused {self.statements_refused}",
        ]
        if self.outcomes:
            lines.append("this run's pair-forms: " + ", ".join(f"{name} {count}" for name, count in self.outcomes.items()))
        for error, count in self.failures[:10]:
            lines.append(f"  {count:6d}  {error}")
        return "\n".join(lines)


_VALIDATION_DATABASE = re.compile(r"^`pinolo(?:_[0-9a-f]{16}|\\_%)`\.\*$")


def check_read_only(endpoint: Endpoint, connection=None) -> None:
    """Raise TargetError unless the account can do no more than SELECT from validation databases
    (`connection`, when given, is an open connection as that account)."""
    if connection is None:
        with endpoint.connect() as own:
            return check_read_only(endpoint, own)
    for grant in account_grants(connection):
        if grant.privileges == {"USAGE"} or (grant.privileges == {"SELECT"} and _VALIDATION_DATABASE.match(grant.on)):
            continue
        raise TargetError(f"the account {endpoint.user} may do more than read the validation databases "
                          f"({grant.shown}); validation runs untrusted SQL only as a SELECT-only account")


def validate(
    warehouse: str | Path,
    scope: Scope,
    settings: RunSettings,
    reader: Endpoint,
    admin: Endpoint | None = None,
    *,
    reader_host: str = "localhost",
    loader: Endpoint | None = None,
    quiet: bool = False,
    on_flush: Callable[[int], None] | None = None,
) -> RunReport:
    """Execute the pairs in `scope` on the target behind `reader` and log them; see the module docstring.

    `admin` creates the validation databases, `loader` (CREATE and INSERT on them only; without it, `admin`
    creates one at `reader_host` for the run) loads their data SQL, and `admin` grants `reader` (an account at
    `reader_host`) SELECT on them; without `admin` they must exist.
    `on_flush(pair_forms_done)` is called after each committed batch.
    """
    started = time.monotonic()
    target = load_target(settings.target)
    with _frozen_heap():
        # Workers are forked first, while this process holds no warehouse connection and no server connection.
        pool = _worker_pool(reader, target, settings) if settings.jobs > 1 else None
        try:
            runner = StatementRunner(reader, target, settings.timeout_s, settings.row_cap, settings.byte_cap)
            try:
                check_read_only(reader, runner.connection)
                return _validate(warehouse, scope, settings, target, runner, pool, reader, admin, reader_host,
                                 quiet, on_flush, started, loader)
            finally:
                runner.close()
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """The objects that exist when a run starts are left out of garbage collection until it ends.

    A run allocates enough (the scope's pairs, the log batches) to trigger full collections, and each full
    collection walks every object of the process: in a process that has already done other work, one took
    0.1 s of a 3 s run before the first statement was sent. Frozen, those objects are walked by no
    collection of the run, in this process or in the workers forked from it (which, walking the inherited
    objects, would also copy the memory pages they share with this process). They are still freed by
    reference counting as before; unfrozen at the end, any cycle among them is collected as it would have
    been."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _validate(warehouse, scope: Scope, settings: RunSettings, target: Target, runner: StatementRunner, pool,
              reader: Endpoint, admin: Endpoint | None, reader_host: str, quiet: bool, on_flush, started: float,
              loader: Endpoint | None = None) -> RunReport:
    server_version = runner.server_version
    settings_hash = settings.settings_hash(target)
    con = connect(warehouse)
    stream: _Stream | None = None
    try:
        ensure_tables(con)
        # The counts and data SQL first, from one aggregate; the pairs themselves stream to the workers from a
        # second query while they run (`scope_work`), instead of all being read before the first is sent.
        done_under = None if settings.fresh else (target.name, server_version, settings_hash)
        stream = _Stream(con.cursor())
        plan = plan_scope(con, scope, done_under, on_query=stream.start)
        planned, todo = plan.planned, plan.planned - plan.skipped
        run_id, resumed, done_in_run, skipped = _open_invocation(
            con, target, server_version, reader.describe(), scope.describe(), settings, settings_hash,
            planned, plan.skipped,
        )
        log.info("validation run %d%s: %d pair-forms planned, %d done before, %d to run", run_id,
                 " (resumed)" if resumed else "", planned, skipped, todo)
        databases = _databases(plan.todo_hashes, plan.texts, admin, reader, reader_host, loader, target)
        items = (_work_item(pair, form, databases) for pair, form in stream.guarded(scope_work(stream, plan)))
        constants = {"target": target.name, "server_version": server_version, "validation_run_id": run_id,
                     "settings_hash": settings_hash}
        writer = _Writer(con, run_id, constants, done_in_run, on_flush)
        status, message = "finished", None
        try:
            with progress_bar(total=todo, desc=f"validate on {target.name}", unit="pair-form",
                              quiet=quiet) as bar, _one_thread(con):
                for batch, lost in _execute(items, todo, runner, pool, settings):
                    writer.add(batch)
                    bar.update(len(batch.pair_forms))
                    if lost is not None:
                        raise ServerLost(lost)
            writer.flush(force=True)
        except BaseException as error:
            status = "interrupted" if isinstance(error, (KeyboardInterrupt, ServerLost)) else "failed"
            message = str(error) or type(error).__name__
            writer.flush(force=True)
            _close_invocation(con, run_id, status, message)
            raise
        _close_invocation(con, run_id, status, message)
        return _report(con, run_id, resumed, target, server_version, reader, scope, planned, skipped,
                       time.monotonic() - started, status)
    finally:
        if stream is not None:
            stream.close()
        con.close()


class _Stream:
    """The cursor `scope_work` reads from. Its query starts in a thread of its own while this thread reads the
    plan (DuckDB runs both at once, without the GIL), and its rows are drawn by the pool's task thread while
    this thread writes the log through the warehouse connection: `close` waits for a query or read in
    progress and ends the drawing, so the cursor is never closed under a read (a run that stops early closes
    it while the task thread may read)."""

    def __init__(self, cursor) -> None:
        self.cursor = cursor
        self._lock = threading.Lock()
        self._closed = False
        self._started: tuple[str, list] | None = None
        self._thread: threading.Thread | None = None
        self._result = None
        self._error: BaseException | None = None

    def start(self, query: str, parameters: list) -> None:
        self._started = (query, parameters)
        self._thread = threading.Thread(target=self._run, args=(query, parameters), name="validation-scope",
                                        daemon=True)
        self._thread.start()

    def _run(self, query: str, parameters: list) -> None:
        try:
            self._result = self.cursor.execute(query, parameters)
        except BaseException as error:  # noqa: BLE001 - raised where the result is taken (`execute`)
            self._error = error

    def execute(self, query: str, parameters: list):
        """The result of `query`: the one `start` began, once it is there, else run now."""
        if self._started != (query, parameters):
            return self.cursor.execute(query, parameters)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result

    def guarded(self, pairs: Iterator):
        while True:
            with self._lock:
                if self._closed:
                    return
                try:
                    pair = next(pairs)
                except StopIteration:
                    return
            yield pair

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self._closed = True
            self.cursor.close()


@contextmanager
def _one_thread(con) -> Iterator[None]:
    """DuckDB on one thread while the statements run: the workers and the server keep every core busy, and
    DuckDB's own threads would only add their coordination to each batch's insert (about 80% more CPU for
    the insert of an Arrow batch). Its setting is the database's, so it is put back afterwards."""
    threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
    con.execute("SET threads = 1")
    try:
        yield
    finally:
        try:
            con.execute(f"SET threads = {int(threads)}")
        except duckdb.Error:  # (a connection DuckDB invalidated: the error that did it is the one to report)
            pass


def _open_invocation(con, target: Target, server_version: str, endpoint: str, scope: str, settings: RunSettings,
                     settings_hash: str, planned: int, skipped: int) -> tuple[int, bool, int, int]:
    """Continue the unfinished run with the same target, server, settings and scope, or start one.
    Returns (run id, resumed, pair-forms that run logged already, pair-forms skipped as done by others)."""
    unfinished = None
    if not settings.fresh:
        unfinished = con.execute(
            "SELECT validation_run_id, pair_forms_done FROM raw.validation_invocations "
            "WHERE target = ? AND server_version = ? AND settings_hash = ? AND scope = ? "
            "AND status IN ('running', 'interrupted') ORDER BY validation_run_id DESC LIMIT 1",
            [target.name, server_version, settings_hash, scope],
        ).fetchall()
    con.execute("BEGIN TRANSACTION")
    if unfinished:
        run_id, done = unfinished[0]
        # Pair-forms this run logged before its interruption are "done", not "skipped", in its own counts.
        skipped_by_others = skipped - done
        con.execute(
            "UPDATE raw.validation_invocations SET status = 'running', finished_at = NULL, jobs = ?, "
            "pair_forms_planned = ?, pair_forms_skipped = ?, message = 'resumed' WHERE validation_run_id = ?",
            [settings.jobs, planned, skipped_by_others, run_id],
        )
        con.execute("COMMIT")
        return run_id, True, done, skipped_by_others
    run_id = con.execute("SELECT coalesce(max(validation_run_id), 0) + 1 FROM raw.validation_invocations").fetchall()[0][0]
    run_id = max(run_id, con.execute("SELECT coalesce(max(validation_run_id), 0) + 1 FROM raw.validation_runs").fetchall()[0][0])
    con.execute(
        "INSERT INTO raw.validation_invocations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 'running', ?, ?, 0, 0, 0, NULL)",
        [run_id, target.name, target.display_name, server_version, endpoint, scope, settings_hash, settings.repeats,
         settings.timeout_s, settings.row_cap, settings.jobs, now_utc(), planned, skipped],
    )
    con.execute("COMMIT")
    return run_id, False, 0, skipped


def _close_invocation(con, run_id: int, status: str, message: str | None) -> None:
    con.execute(
        "UPDATE raw.validation_invocations SET status = ?, finished_at = ?, message = ? WHERE validation_run_id = ?",
        [status, now_utc() if status == "finished" else None, message, run_id],
    )


class _Writer:
    """Commits finished pair-forms in batches, each with the run's counters, in one transaction."""

    def __init__(self, con, run_id: int, constants: dict, done: int, on_flush) -> None:
        self.con, self.run_id, self.constants, self.on_flush = con, run_id, constants, on_flush
        self.pending: list[LogBatch] = []
        self.pending_rows = 0
        self.done = done
        self.last_flush = time.monotonic()

    def add(self, batch: LogBatch) -> None:
        if batch.rows:
            self.pending.append(batch)
            self.pending_rows += batch.rows
        self.flush()

    def flush(self, force: bool = False) -> None:
        if not self.pending:
            return
        if not force and self.pending_rows < _FLUSH_ROWS and time.monotonic() - self.last_flush < _FLUSH_SECONDS:
            return
        batches, self.pending, self.pending_rows = self.pending, [], 0
        pair_forms = len(set().union(*(batch.pair_forms for batch in batches)))
        refused = sum(batch.refused for batch in batches)
        executed = sum(batch.executed for batch in batches)
        self.con.execute("BEGIN TRANSACTION")
        try:
            append_batches(self.con, batches, self.constants)
            self.con.execute(
                "UPDATE raw.validation_invocations SET pair_forms_done = pair_forms_done + ?, "
                "statements_executed = statements_executed + ?, statements_refused = statements_refused + ? "
                "WHERE validation_run_id = ?",
                [pair_forms, executed, refused, self.run_id],
            )
            self.con.execute("COMMIT")
        except BaseException as error:
            self.con.execute("ROLLBACK")
            if _duckdb_interrupted(error):
                # Ctrl-C while DuckDB ran the insert: DuckDB took the signal and raised its own error, but the
                # run was interrupted (exit 130, committed work kept), as when the signal lands anywhere else.
                raise KeyboardInterrupt from error
            raise
        self.done += pair_forms
        self.last_flush = time.monotonic()
        if self.on_flush is not None:
            self.on_flush(self.done)


def _duckdb_interrupted(error: BaseException) -> bool:
    """Whether `error` is DuckDB's answer to SIGINT arriving during a query (a RuntimeError "Query
    interrupted" from the Python client; an InterruptException in some versions)."""
    interrupt = getattr(duckdb, "InterruptException", None)
    return (interrupt is not None and isinstance(error, interrupt)) or (
        type(error) is RuntimeError and str(error) == "Query interrupted")


def _databases(needed: list[str], data_sqls: dict[str, tuple[str, str]], admin: Endpoint | None, reader: Endpoint,
               reader_host: str, loader: Endpoint | None = None, target: Target | None = None
               ) -> dict[str, tuple[str | None, str | None]]:
    """hash → (database name, None) for each data SQL hash in `needed` (sorted), loaded where needed, or
    (None, the reason it cannot be: a data SQL the text check refuses, or one the server refuses or stops under
    the loader account); its pair-forms are logged `no_database`."""
    databases: dict[str, tuple[str | None, str | None]] = {}
    if needed:
        if admin is not None:
            with DatabaseLoader(admin, reader.user, reader_host, loader=loader, target=target) as databases_loader:
                for sha256 in needed:
                    text, source = data_sqls[sha256]
                    try:
                        databases[sha256] = (databases_loader.ensure(sha256, text, source), None)
                    except DataSqlError as error:
                        log.warning("%s", error)
                        databases[sha256] = (None, str(error))
        else:
            with reader.connect() as connection, connection.cursor() as cursor:
                cursor.execute("SHOW DATABASES")
                present = {row[0] for row in cursor.fetchall()}
            for sha256 in needed:
                name = database_name(sha256)
                databases[sha256] = (name, None) if name in present else (
                    None, f"{name} is not on the target and no admin DSN was given to load it")
    return databases


def _work_item(pair: ScopedPair, form: tuple[str, str, str], databases: dict[str, tuple[str | None, str | None]]
               ) -> WorkItem:
    name, reason = databases[pair.data_sql_hash]
    return WorkItem(pair.pair_hash, form[0], pair.strategy, pair.is_upper, form[1], form[2], name,
                    pair.data_sql_hash, reason)


def _chunks(items: Iterable[WorkItem], size: int) -> Iterator[list[WorkItem]]:
    items = iter(items)
    while chunk := list(islice(items, size)):
        yield chunk


def _pool_chunks(items: Iterable[WorkItem], jobs: int, total: int | None = None) -> Iterator[list[WorkItem]]:
    """Units of work for `jobs` workers from `total` items (default: `len(items)`): `_CHUNK` * 4 pair-forms each
    (fewer messages to pass), but the last `_CHUNK` * 8 * `jobs` in units of `_CHUNK`, so the workers finish
    together instead of one of them running a last big unit alone while the others sit idle at the end of the
    run."""
    if total is None:
        total = len(items)
    big_until = max(0, total - _CHUNK * 8 * jobs)
    items = iter(items)
    start = 0
    while True:
        size = _CHUNK * 4 if start < big_until else _CHUNK
        chunk = list(islice(items, size))
        if not chunk:
            return
        yield chunk
        start += size


class _Pool(multiprocessing.pool.Pool):
    """multiprocessing's Pool without its worker handler's spinning.

    Pool's worker-handler thread also waits on the result queue's reader, so every result a worker sends
    wakes it, and until the result-handler thread has read the result (which needs the GIL the woken
    thread now holds, for up to the 5 ms switch interval) it wakes again and again: about a tenth of a core
    per busy pool (measured: 0.27 s of CPU in 3 s of 300 results), taken from the workers and the server.
    The handler has nothing to do about results: it replaces workers that exit (their own sentinels wake it)
    and follows close and terminate (the change notifier wakes it), so it waits on those alone."""

    def _get_sentinels(self) -> list:
        return [self._change_notifier._reader]


def _worker_pool(reader: Endpoint, target: Target, settings: RunSettings):
    """`settings.jobs` processes with a read-only connection each. Forked where the platform can (a fork
    costs milliseconds, a spawned interpreter a good part of a second of a short run's time)."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    return _Pool(settings.jobs, initializer=_start_worker,
                 initargs=(reader, target.name, settings.timeout_s, settings.row_cap, settings.repeats,
                           settings.byte_cap), context=context)


def _execute(items: Iterable[WorkItem], total: int, runner: StatementRunner, pool, settings: RunSettings
             ) -> Iterable[tuple[LogBatch, str | None]]:
    """Yield (log rows of finished pair-forms, the ServerLost message or None) per chunk of the `total` items:
    in this process on `runner`'s connection with one job, else on the pool's workers (which send the rows as
    Arrow tables; the pool's task thread draws the items, so they are read while the workers run)."""
    if not total:
        return
    if pool is None:
        # One job reads the whole scope first: drawn between its statements, the reads (and their cache
        # misses) would slow the statements down (measured about 3% of a run; see runner.execute_each).
        items = list(items)
        _worker.update(runner=runner, repeats=settings.repeats)
        try:
            for chunk in _chunks(items, _CHUNK):
                yield _run_chunk(chunk)
        finally:
            _worker.clear()
        return
    yield from pool.imap_unordered(_run_chunk, _pool_chunks(items, settings.jobs, total))


_worker: dict = {}


class _WithoutPandas(importlib.abc.MetaPathFinder):
    """Makes `import pandas` fail with ImportError, as if it were not installed."""

    def find_spec(self, name: str, path=None, target=None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r} (not imported in validation workers)", name=name)
        return None


def _start_worker(reader: Endpoint, target_name: str, timeout_s: float, row_cap: int, repeats: int,
                  byte_cap: int) -> None:
    # pyarrow imports pandas on its first conversion of a Python list (`log_batch`), only to learn that the
    # list is no pandas object: a third of a second of CPU in every worker. Workers never use pandas, so one
    # forked from a process without it is kept from importing it (pyarrow then takes it as absent).
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _WithoutPandas())
    _worker["as_table"] = True
    # An exception here would make the pool restart the worker forever: keep it for the first chunk to report.
    try:
        _worker["runner"] = StatementRunner(reader, load_target(target_name), timeout_s, row_cap, byte_cap)
    except Exception as error:  # noqa: BLE001 - reported through _run_chunk
        _worker["error"] = f"a worker could not connect: {error}"
    _worker["repeats"] = repeats


def _run_chunk(chunk: list[WorkItem]) -> tuple[LogBatch, str | None]:
    if "error" in _worker:
        return log_batch([]), _worker["error"]
    try:
        rows = run_pairs(_worker["runner"], chunk, _worker["repeats"])
    except ServerLost as lost:
        return log_batch([]), f"{lost} (the unlogged pair-forms of this batch run again on the next run)"
    return log_batch(rows, as_table=_worker.get("as_table", False)), None


def _report(con, run_id: int, resumed: bool, target: Target, server_version: str, reader: Endpoint, scope: Scope,
            planned: int, skipped: int, seconds: float, status: str) -> RunReport:
    done, executed, refused = con.execute(
        "SELECT pair_forms_done, statements_executed, statements_refused FROM raw.validation_invocations "
        "WHERE validation_run_id = ?", [run_id]).fetchall()[0]
    outcomes = dict(con.execute(
        """
        WITH per_pair_form AS (
            SELECT pair_hash, form,
                   bool_and(original_status = 'ok' AND mutated_status = 'ok') AS executable,
                   count(DISTINCT original_digest) <= 1 AND count(DISTINCT mutated_digest) <= 1
                       AND count(DISTINCT oracle) <= 1 AS stable,
                   min(oracle) AS oracle
            FROM raw.validation_runs WHERE validation_run_id = ? GROUP BY ALL
        )
        SELECT CASE WHEN NOT executable THEN 'not executable' WHEN NOT stable THEN 'flaky'
                    ELSE 'executable, oracle ' || oracle END AS outcome, count(*)
        FROM per_pair_form GROUP BY ALL ORDER BY 2 DESC, 1
        """, [run_id]).fetchall())
    failures = con.execute(
        """
        SELECT error_class, count(*) FROM (
            SELECT original_error_class AS error_class FROM raw.validation_runs
            WHERE validation_run_id = ? AND repeat_index = 0 AND original_error_class IS NOT NULL
            UNION ALL
            SELECT mutated_error_class FROM raw.validation_runs
            WHERE validation_run_id = ? AND repeat_index = 0 AND mutated_error_class IS NOT NULL
        ) GROUP BY ALL ORDER BY 2 DESC, 1
        """, [run_id, run_id]).fetchall()
    return RunReport(run_id, resumed, target.name, server_version, reader.describe(), scope.describe(), planned,
                     skipped, done, executed, refused, seconds, status, outcomes, failures)
