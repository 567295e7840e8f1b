"""`load`: a PINOLO tree into the warehouse's `raw` schema, incrementally, in one transaction per run.

First load of a root: the workers list and read every unit (task folder, pool top) in one pass. Later loads:
the workers first list every file with its size and mtime (no reading); DuckDB compares that listing with
`raw.ingest_files`; only the reports whose .json or .log is new or changed are read again (both files of a
report, since one row merges them), and their old rows are replaced. Files that are gone are marked
vanished. Everything happens inside one transaction, committed at the very end: a run that is interrupted
(Ctrl-C, kill, crash) leaves the warehouse as it was.

A file quarantined unread (no hash: it could not be read, is not a regular file, or was over the size cap)
is tried again by every later run, since what was wrong may lie outside its bytes (permissions, the cap):
it counts as loaded or quarantined in that run, never as unchanged. A folder that could not be listed
stands for its files as one quarantined entry ('<path>/'); once it can be listed, that entry is dropped
(not counted as vanished) and its files are new.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

from pinoloft_base.console import progress_bar
from pinoloft_base.warehouse import ensure_schema, write_transaction

from .discover import Layout, Unit, discover
from .errors import IngestError, ReconciliationError
from .parallel import WorkerPool
from .readers import DEFAULT_MAX_FILE_BYTES, SCAN_SCHEMA, TASK_META_SCHEMA, UnitResult, read_unit, scan_unit
from .schema import FILE_TABLES

log = logging.getLogger("ingest")

STAGING_PREFIX = ".ingest-staging-"
MEMORY_LIMIT = "768MB"  # DuckDB's share of the 1.5 GiB the whole load may use
BATCH_ROWS = 20_000  # staged bug rows per INSERT batch
# The write connection appends row groups of ROW_GROUP_SIZE rows and writes each one to the file as soon as
# it is full (write_buffer_row_group_count = 1; DuckDB's default buffers 5 groups of 122,880 rows), so the
# compression of the rows happens batch by batch while the workers still read, instead of all at the
# commit on one core (measured at 40,000 reports: commit 0.8 s -> 0.15 s CPU, and less CPU in all). The
# stored rows are the same; the file is about 4% larger.
ROW_GROUP_SIZE = 16_384
WRITE_SETUP = (f"SET memory_limit = '{MEMORY_LIMIT}'", "SET write_buffer_row_group_count = 1")


@dataclass(slots=True)
class LoadReport:
    """The counts of one run. `files_seen = files_loaded + files_quarantined + files_unchanged` always."""

    ingest_run_id: int
    source_root: str
    files_seen: int
    files_loaded: int
    files_quarantined: int
    files_unchanged: int
    files_vanished: int
    seconds: float
    tasks: int
    pools: int
    incremental: bool
    notes: list[str] = field(default_factory=list)

    @property
    def reconciliation(self) -> str:
        return (f"files seen {self.files_seen} = loaded {self.files_loaded} + quarantined {self.files_quarantined}"
                f" + skipped as unchanged {self.files_unchanged}; vanished {self.files_vanished}")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _work(job: tuple[str, str, Unit, frozenset[str] | None, str, str, int]) -> UnitResult:
    mode, root, unit, only, stage, key, max_file_bytes = job
    if mode == "scan":
        return scan_unit(root, unit)
    return read_unit(root, unit, only, stage, key, max_file_bytes)


class _Writer:
    """Inserts the Parquet files the workers staged, a batch at a time, while the workers go on.

    A batch is every file staged since the last one, inserted with one statement per table once it holds
    BATCH_ROWS bug rows, or as many as the units still to come are likely to bring (and at the end).
    Inserting from Parquet lets DuckDB write full row groups to the database file as it goes, so the
    transaction's memory stays flat however big the tree.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, root: str, run_id: int, at: datetime) -> None:
        self.con = con
        self.root = root
        self.run_id = run_id
        self.at = at
        self.files: dict[str, list[str]] = defaultdict(list)
        self.pending_bugs = 0
        self.units = 0  # units taken so far, and their bug rows: the average unit, to foresee the rest
        self.bugs = 0

    def add(self, staged: dict[str, tuple[str, int]], *, last_stretch: bool = False, remaining: int = 0) -> None:
        """Take a unit's staged files; `last_stretch`: the workers are finishing their last units, so the
        batch goes in at once (what is still pending when the last unit comes is inserted while nothing
        else runs; inserting as results come keeps that short without small batches all along).
        `remaining`: the units still to come; once the batch holds as many bug rows as they are likely to
        bring (at the average so far), it goes in, so the batch pending at the end is about one unit's
        (measured at 40,000 reports: a batch of 7 units, 0.3 s, was inserted after the workers were done).
        A batch without bug rows (units of task files only) waits as before: nothing to foresee."""
        count = staged.get("bug_reports", ("", 0))[1]
        for table, (path, rows) in staged.items():
            if rows:
                self.files[table].append(path)
        self.pending_bugs += count
        self.units += 1
        self.bugs += count
        if (self.pending_bugs >= BATCH_ROWS or (last_stretch and self.files)
                or (remaining > 0 and self.pending_bugs and self.pending_bugs * self.units >= self.bugs * remaining)):
            self.flush()

    def flush(self) -> None:
        for table in sorted(self.files):
            self.insert(table)
        self.files.clear()
        self.pending_bugs = 0

    def insert(self, table: str) -> None:
        paths = self.files[table]
        # From files DuckDB reads itself: an Arrow table registered instead stays referenced by the
        # transaction until it ends (measured: the parent's peak RSS grew to the whole tree's rows).
        if table == "ingest_files":
            self.con.execute(
                "INSERT INTO raw.ingest_files BY NAME SELECT *, ?::VARCHAR AS source_root, "
                "?::BIGINT AS first_seen_run, ?::BIGINT AS last_seen_run, ?::TIMESTAMP AS updated_at "
                "FROM read_parquet(?::VARCHAR[])", [self.root, self.run_id, self.run_id, self.at, paths])
        else:
            self.con.execute(
                f"INSERT INTO raw.{table} BY NAME SELECT *, ?::VARCHAR AS source_root, "
                "?::TIMESTAMP AS ingested_at, ?::BIGINT AS ingest_run_id FROM read_parquet(?::VARCHAR[])",
                [self.root, self.at, self.run_id, paths])
        for path in paths:
            os.unlink(path)


def _staging_dir(warehouse: str | os.PathLike[str]) -> str:
    """A fresh folder for staged rows beside the warehouse; stale ones of dead runs are removed first."""
    parent = os.path.dirname(os.path.abspath(os.fspath(warehouse)))
    os.makedirs(parent, exist_ok=True)
    for name in os.listdir(parent):
        if name.startswith(STAGING_PREFIX):
            pid = name[len(STAGING_PREFIX):].split("-", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(os.path.join(parent, name), ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=parent)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _size_cap(max_file_bytes: int) -> int:
    if max_file_bytes < 1:
        raise IngestError(f"--max-file-size must be at least 1 byte, got {max_file_bytes}")
    return max_file_bytes


def _worker_count(jobs: int | None) -> int:
    if jobs is not None and jobs < 1:
        raise IngestError(f"--jobs must be at least 1, got {jobs}")
    return jobs or os.cpu_count() or 1


def load(root: str | os.PathLike[str], warehouse: str | os.PathLike[str], *, jobs: int | None = None,
         quiet: bool | None = None, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> LoadReport:
    """Load every pool and task below `root` into `warehouse` (created if missing) and reconcile the counts.

    `jobs` worker processes list and read the files (default: all cores). Raises SourceError when `root`
    holds no PINOLO output and WarehouseError when the warehouse cannot be opened (WarehouseBusyError when
    another process writes it); bad files never raise, they go to raw.ingest_quarantine: unparsable ones,
    unreadable files and folders, links and other non-regular files (never followed) and files over
    `max_file_bytes` (never read). Nothing is committed unless the whole run succeeds.
    """
    began = time.perf_counter()
    cap = _size_cap(max_file_bytes)
    layout = discover(root)
    count = _worker_count(jobs)
    stage = _staging_dir(warehouse)
    # Listing files is mostly waiting on stat(): a later run lists with twice the processes. The pools are
    # forked before DuckDB is opened for writing (forking a process that runs DuckDB's threads is unsafe).
    lister = WorkerPool(min(2 * count, len(layout.units))) if _has_prior(warehouse, layout.root) else None
    try:
        with WorkerPool(min(count, max(1, len(layout.units)))) as pool:
            with write_transaction(warehouse, setup=WRITE_SETUP, row_group_size=ROW_GROUP_SIZE) as con:
                report = _load(con, pool, lister, layout, stage, quiet, cap)
    finally:
        if lister is not None:
            lister.terminate()
        shutil.rmtree(stage, ignore_errors=True)
    report.seconds = time.perf_counter() - began
    return report


def _has_prior(warehouse: str | os.PathLike[str], root: str) -> bool:
    """Whether an earlier run loaded this root (a quick read-only look; False when in doubt)."""
    if not os.path.exists(os.fspath(warehouse)):
        return False
    try:
        con = duckdb.connect(os.fspath(warehouse), read_only=True)
    except duckdb.Error:
        return False
    try:
        return bool(con.execute("SELECT count(*) FROM raw.ingest_files WHERE source_root = ?", [root]).fetchall()[0][0])
    except duckdb.Error:
        return False
    finally:
        con.close()


def _load(con: duckdb.DuckDBPyConnection, pool: WorkerPool, lister: WorkerPool | None, layout: Layout,
          stage: str, quiet: bool | None, cap: int) -> LoadReport:
    ensure_schema(con, "raw")
    root = layout.root
    run_id = con.execute("SELECT coalesce(max(ingest_run_id), 0) + 1 FROM raw.ingest_runs").fetchall()[0][0]
    started = _now()
    writer = _Writer(con, root, run_id, started)
    prior = con.execute("SELECT count(*) FROM raw.ingest_files WHERE source_root = ?", [root]).fetchall()[0][0]
    incremental = prior > 0
    metas: list[pa.Table] = []
    unchanged = vanished = 0
    missing: list[str] = []

    if incremental:
        jobs, unchanged, vanished, scanned_meta = _plan_incremental(con, lister or pool, layout, stage, quiet, cap)
        if lister is not None:
            lister.close()
        metas.append(scanned_meta)
        total = sum(len(job[3] or ()) for job in jobs)
    else:
        jobs = [("read", root, unit, None, stage, str(index), cap) for index, unit in enumerate(layout.units)]
        total = None

    loaded = quarantined = 0
    read_meta: list[pa.Table] = []
    con.execute("SET threads = 1")  # while the workers parse, the cores are theirs
    notes: list[str] = []
    bar = progress_bar(total=total, desc="ingest", unit="file", quiet=quiet)
    try:
        for received, result in enumerate(pool.run(_work, jobs, window=pool.workers * 3), start=1):
            remaining = len(jobs) - received
            writer.add(result.staged, last_stretch=remaining < pool.workers, remaining=remaining)
            if result.task_meta is not None:
                read_meta.append(result.task_meta)
            loaded += result.loaded
            quarantined += result.quarantined
            missing.extend(result.missing)
            for note in result.notes:
                log.warning(note)
                notes.append(note)
            bar.update(result.files)
        # On one thread still: parallel inserts would each start row groups of their own (partial ones).
        writer.flush()
    finally:
        bar.close()
    con.execute(f"SET threads = {os.cpu_count() or 1}")

    if incremental:
        _finish_files(con, root, run_id, started, missing)
        vanished += len(missing)
    tasks = _update_tasks(con, root, run_id, started, metas, read_meta, incremental)
    if incremental:
        con.execute("DROP VIEW IF EXISTS ingest_scan")
        con.execute("DROP VIEW IF EXISTS ingest_scan_paths")
        con.unregister("ingest_scan_arrow")

    seen = loaded + quarantined + unchanged
    check = con.execute(
        "SELECT count(*) FILTER (WHERE status <> 'vanished'), "
        "count(*) FILTER (WHERE status <> 'vanished' AND last_seen_run = ?) FROM raw.ingest_files "
        "WHERE source_root = ?", [run_id, root]).fetchall()[0]
    if check[0] != seen or check[1] != seen:
        raise ReconciliationError(f"internal error: reconciliation failed ({seen} files seen, {check[0]} tracked as "
                                  f"present, {check[1]} marked seen in this run); nothing was committed")
    report = LoadReport(run_id, root, seen, loaded, quarantined, unchanged, vanished, 0.0, tasks,
                        len(layout.pools), incremental, notes)
    con.execute("INSERT INTO raw.ingest_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, root, started, _now(), seen, loaded, quarantined, unchanged, vanished,
                 report.reconciliation])
    return report


def _plan_incremental(con: duckdb.DuckDBPyConnection, pool: WorkerPool, layout: Layout, stage: str,
                      quiet: bool | None, cap: int) -> tuple[list[Any], int, int, pa.Table]:
    """List the tree, compare it with raw.ingest_files, delete what will be re-read; returns the read jobs,
    the unchanged and vanished counts, and the listed task facts."""
    root = layout.root
    scans: list[pa.Table] = []
    metas: list[pa.Table] = []
    bar = progress_bar(total=len(layout.units), desc="scan", unit="dir", quiet=quiet)
    try:
        for result in pool.run(_work, [("scan", root, unit, None, stage, "", cap) for unit in layout.units]):
            scans.append(result.scan)
            if result.task_meta is not None:
                metas.append(result.task_meta)
            bar.update(1)
    finally:
        bar.close()
    scan = pa.concat_tables(scans) if scans else SCAN_SCHEMA.empty_table()
    del scans
    # Paths, report folders and report groups (a report's .json and .log share the group of its stem).
    con.register("ingest_scan_arrow", scan)
    con.execute(r"""
        CREATE OR REPLACE TEMP VIEW ingest_scan_paths AS
        SELECT unit_rel, unit_kind, name, size, mtime_ns,
               CASE WHEN unit_rel = '' THEN name ELSE unit_rel || '/' || name END AS relative_path
        FROM ingest_scan_arrow""")  # a unit's own unreadable folder has the name '' (or './'): '<unit_rel>/'

    con.execute(r"""
        CREATE OR REPLACE TEMP VIEW ingest_scan AS
        SELECT *, CASE WHEN contains(name, '/') THEN split_part(name, '/', 1) END AS folder,
               CASE WHEN unit_rel = '' THEN '' ELSE unit_rel || '/' END
                   || CASE WHEN contains(name, '/') THEN regexp_replace(name, '\.[^./]*$', '') ELSE name END
                   AS group_key
        FROM ingest_scan_paths""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE ingest_prev AS
        SELECT relative_path, size, mtime_ns, status, file_kind, file_hash, first_seen_run FROM raw.ingest_files
        WHERE source_root = ?""", [root])
    # Files new, changed, back from vanished or quarantined unread (no hash: tried again, see the top);
    # their folder and group are worked out for them alone. Files gone since the last run.
    con.execute(r"""
        CREATE OR REPLACE TEMP TABLE ingest_changed AS
        SELECT c.*, CASE WHEN contains(name, '/') THEN split_part(name, '/', 1) END AS folder,
               CASE WHEN unit_rel = '' THEN '' ELSE unit_rel || '/' END
                   || CASE WHEN contains(name, '/') THEN regexp_replace(name, '\.[^./]*$', '') ELSE name END
                   AS group_key
        FROM (SELECT s.*, (p.relative_path IS NULL OR p.status = 'vanished') AS is_new
              FROM ingest_scan_paths s LEFT JOIN ingest_prev p USING (relative_path)
              WHERE p.relative_path IS NULL OR p.status = 'vanished' OR p.size <> s.size
                 OR p.mtime_ns <> s.mtime_ns OR (p.status = 'quarantined' AND p.file_hash IS NULL)) AS c""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE ingest_gone AS
        SELECT p.relative_path, p.file_kind,
               CASE WHEN regexp_matches(p.relative_path, '(^|/)(bugs|maystable|unstable|sqlsim)/[^/]+$')
                    THEN CASE WHEN regexp_matches(p.relative_path, '\\.[^./]*$')
                              THEN regexp_replace(p.relative_path, '\\.[^./]*$', '') ELSE p.relative_path END
                    ELSE p.relative_path END AS group_key,
               regexp_extract(p.relative_path, '^(.*?)/?(bugs|maystable|unstable|sqlsim)/[^/]+$', 1) AS report_unit,
               CASE WHEN p.relative_path = 'result.json' THEN ''
                    ELSE regexp_extract(p.relative_path, '^(.*)/result\\.json$', 1) END AS result_unit
        FROM ingest_prev p ANTI JOIN ingest_scan_paths s USING (relative_path)
        WHERE p.status <> 'vanished'""")
    # Which units must be read again, and which of their files. A report is re-read whole (.json and .log);
    # a task whose result.json came or went is re-read whole (the reasons of cut reports depend on it); a
    # task whose maystable/ gained or lost a report re-reads its sqlsim/ (orphans depend on it).
    scanned, changed, vanished, folders_back = con.execute(
        "SELECT (SELECT count(*) FROM ingest_scan_arrow), (SELECT count(*) FROM ingest_changed), "
        "(SELECT count(*) FILTER (WHERE file_kind <> 'folder') FROM ingest_gone), "
        "(SELECT count(*) FILTER (WHERE file_kind = 'folder') FROM ingest_gone)").fetchall()[0]
    rereads = 0
    if changed or vanished or folders_back:
        con.execute("""
            CREATE OR REPLACE TEMP TABLE ingest_work AS
            WITH dirty_groups AS (
                SELECT group_key FROM ingest_changed UNION SELECT group_key FROM ingest_gone
            ), whole_units AS (
                SELECT unit_rel FROM ingest_changed WHERE is_new AND unit_kind = 'task' AND name = 'result.json'
                UNION SELECT result_unit FROM ingest_gone WHERE file_kind = 'task_result'
            ), maystable_keys AS (
                SELECT unit_rel, regexp_extract(name, '^maystable/bug-(0|[1-9][0-9]*)-(0|[1-9][0-9]*)-', 1) AS b,
                       regexp_extract(name, '^maystable/bug-(0|[1-9][0-9]*)-(0|[1-9][0-9]*)-', 2) AS s
                FROM ingest_changed WHERE is_new AND name LIKE 'maystable/%.json'
                UNION
                SELECT report_unit,
                       regexp_extract(relative_path, '(^|/)maystable/bug-(0|[1-9][0-9]*)-(0|[1-9][0-9]*)-[^/]*$', 2),
                       regexp_extract(relative_path, '(^|/)maystable/bug-(0|[1-9][0-9]*)-(0|[1-9][0-9]*)-[^/]*$', 3)
                FROM ingest_gone WHERE file_kind = 'bug_json' AND regexp_matches(relative_path, '(^|/)maystable/[^/]+$')
            )
            SELECT s.unit_rel, s.name, s.relative_path FROM ingest_scan s
            WHERE s.group_key IN (SELECT group_key FROM dirty_groups)
               OR s.unit_rel IN (SELECT unit_rel FROM whole_units)
               OR (s.folder = 'sqlsim' AND (s.unit_rel,
                       regexp_extract(s.name, '^sqlsim/bug-(0|[1-9][0-9]*)-(0|[1-9][0-9]*)-', 1),
                       regexp_extract(s.name, '^sqlsim/bug-(0|[1-9][0-9]*)-(0|[1-9][0-9]*)-', 2))
                   IN (SELECT (unit_rel, b, s) FROM maystable_keys WHERE b <> ''))""")
        rereads = con.execute("SELECT count(*) FROM ingest_work").fetchall()[0][0]
    if rereads:
        for table in FILE_TABLES:
            con.execute(f"DELETE FROM raw.{table} WHERE source_root = ? AND relative_path IN "
                        "(SELECT relative_path FROM ingest_work)", [root])
        con.execute("DELETE FROM raw.ingest_files WHERE source_root = ? AND relative_path IN "
                    "(SELECT relative_path FROM ingest_work)", [root])
    if folders_back:  # a folder that can be listed again: its entry gave way to its files (counted as new)
        for table in ("ingest_quarantine", "ingest_files"):
            con.execute(f"DELETE FROM raw.{table} WHERE source_root = ? AND relative_path IN "
                        "(SELECT relative_path FROM ingest_gone WHERE file_kind = 'folder')", [root])
    if vanished:
        con.execute("UPDATE raw.ingest_files SET status = 'vanished', updated_at = ? WHERE source_root = ? AND "
                    "relative_path IN (SELECT relative_path FROM ingest_gone)", [_now(), root])
        con.execute("UPDATE raw.bug_reports SET is_vanished = true WHERE source_root = ? AND "
                    "relative_path IN (SELECT relative_path FROM ingest_gone)", [root])
    units = {unit.rel: unit for unit in layout.units}
    wanted: dict[str, set[str]] = defaultdict(set)
    if rereads:
        for unit_rel, name in con.execute("SELECT unit_rel, name FROM ingest_work").fetchall():
            wanted[unit_rel].add(name)
    jobs = [("read", root, units[rel], frozenset(names), stage, str(index), cap)
            for index, (rel, names) in enumerate(sorted(wanted.items()))]
    meta = pa.concat_tables(metas) if metas else TASK_META_SCHEMA.empty_table()
    return jobs, scanned - rereads, vanished, meta


def _finish_files(con: duckdb.DuckDBPyConnection, root: str, run_id: int, at: datetime, missing: list[str]) -> None:
    """After an incremental read: keep first_seen_run of re-read files, record files that vanished while
    being read, and stamp every present file as seen in this run."""
    con.execute("""
        UPDATE raw.ingest_files AS f SET first_seen_run = p.first_seen_run
        FROM ingest_prev p
        WHERE f.source_root = ? AND f.last_seen_run = ? AND f.relative_path = p.relative_path
          AND p.first_seen_run IS NOT NULL""", [root, run_id])
    if missing:
        con.register("ingest_missing", pa.table({"relative_path": pa.array(missing, pa.string())}))
        con.execute("""
            INSERT INTO raw.ingest_files (source_root, relative_path, file_kind, size, mtime_ns, status,
                                          first_seen_run, last_seen_run, updated_at)
            SELECT ?, p.relative_path, p.file_kind, p.size, p.mtime_ns, 'vanished', p.first_seen_run, NULL, ?
            FROM ingest_prev p JOIN ingest_missing USING (relative_path)""", [root, at])
        con.unregister("ingest_missing")
    con.execute("UPDATE raw.ingest_files SET last_seen_run = ? WHERE source_root = ? AND status <> 'vanished' "
                "AND last_seen_run IS DISTINCT FROM ?", [run_id, root, run_id])


def _update_tasks(con: duckdb.DuckDBPyConnection, root: str, run_id: int, at: datetime, scanned: list[pa.Table],
                  read: list[pa.Table], incremental: bool) -> int:
    """Rewrite raw.tasks rows (and killed-task quarantine rows) of the tasks whose facts changed."""
    read_meta = pa.concat_tables(read) if read else TASK_META_SCHEMA.empty_table()
    listed = pa.concat_tables(scanned) if scanned else read_meta
    con.register("ingest_listed", listed)
    con.register("ingest_read_meta", read_meta)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE ingest_tasks AS
        SELECT CASE WHEN l.relative_path = '' THEN '.' ELSE l.relative_path END AS relative_path,
               l.run, l.dbms, l.task, l.task_id, l.has_result,
               coalesce(r.finished_in_log, t.finished_in_log, false) AS finished_in_log, l.folders
        FROM ingest_listed l
        LEFT JOIN ingest_read_meta r USING (relative_path)
        LEFT JOIN raw.tasks t ON t.source_root = ? AND t.relative_path =
             (CASE WHEN l.relative_path = '' THEN '.' ELSE l.relative_path END)""", [root])
    con.unregister("ingest_listed")
    con.unregister("ingest_read_meta")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE ingest_tasks_changed AS
        SELECT n.* FROM ingest_tasks n
        LEFT JOIN raw.tasks t ON t.source_root = ? AND t.relative_path = n.relative_path
        WHERE t.relative_path IS NULL OR t.has_result IS DISTINCT FROM n.has_result
           OR t.finished_in_log IS DISTINCT FROM n.finished_in_log OR t.folders IS DISTINCT FROM n.folders""",
                [root])
    con.execute("DELETE FROM raw.tasks WHERE source_root = ? AND relative_path IN "
                "(SELECT relative_path FROM ingest_tasks_changed)", [root])
    con.execute("DELETE FROM raw.ingest_quarantine WHERE source_root = ? AND file_kind = 'task_dir' AND "
                "relative_path IN (SELECT relative_path FROM ingest_tasks_changed)", [root])
    con.execute("""
        INSERT INTO raw.tasks BY NAME
        SELECT ? AS source_root, run, dbms, task, task_id, relative_path, has_result, finished_in_log, folders,
               ? AS ingested_at, ? AS ingest_run_id
        FROM ingest_tasks_changed""", [root, at, run_id])
    con.execute("""
        INSERT INTO raw.ingest_quarantine BY NAME
        SELECT ? AS source_root, relative_path, run, dbms, task, 'task_dir' AS file_kind,
               CASE WHEN finished_in_log
                    THEN 'task has no result.json although task.log says Finished (result not saved)'
                    ELSE 'task killed before result.json (no Finished in task.log)' END AS reason,
               NULL AS file_hash, ? AS ingested_at, ? AS ingest_run_id
        FROM ingest_tasks_changed WHERE NOT has_result""", [root, at, run_id])
    return con.execute("SELECT count(*) FROM ingest_tasks").fetchall()[0][0]
