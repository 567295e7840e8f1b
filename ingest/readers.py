"""Reading one unit of a PINOLO tree (a task folder, or the top of a pool) into rows: runs in worker processes.

Every file a unit reads ends as exactly one `ingest_files` row with status `loaded` or `quarantined`; a
quarantined file also gets an `ingest_quarantine` row with the reason. Nothing here raises for bad input:
a file that cannot be used is a row with a reason. Rows go back to the loader as Arrow tables.

The tree is untrusted. A symbolic link, fifo, socket or device is never followed or opened (it is
quarantined from its directory entry, and files are opened with O_NOFOLLOW | O_NONBLOCK and checked to be
regular); a file over the size cap is quarantined unread and no more than cap + 1 bytes are ever read; a
folder that cannot be listed is quarantined under its path with a trailing '/'; a file nested too deeply
for the parsers (RecursionError) is quarantined. MemoryError is not caught: with the cap, a file's
memory is bounded, so it means the machine is short of memory, not that the file is bad, and the run's
transaction is rolled back rather than a good file quarantined for good.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from mutations.errors import SqlSyntaxError
from mutations.fingerprint import pair_hash
from mutations.formats import (
    FormatError,
    is_known_mutation,
    parse_bug_file_name,
    parse_bug_json,
    parse_logrus_line,
    parse_pool_result,
    parse_task_config,
    parse_task_result,
    task_config_json,
)
from mutations.parser import parse
from mutations.tokens import tokenize

from .discover import REPORT_FOLDERS, TASK_CONFIG_RE, Unit, is_manifest
from .logsummary import summarize
from .schema import arrow_schema, worker_columns

__all__ = ["DEFAULT_MAX_FILE_BYTES", "SCAN_SCHEMA", "TASK_META_SCHEMA", "UnitResult", "read_unit", "scan_unit",
           "statement_problem"]

# Real reports are a few KiB, task logs and data SQL well under a MiB: 16 MiB is far above them and bounds a
# worker's memory for one file (a parsed JSON takes a few times its size).
DEFAULT_MAX_FILE_BYTES = 16 * 1024 * 1024

OUT_TABLES = ("bug_reports", "task_results", "pool_results", "task_configs", "data_sqls", "task_log_bugs",
              "ingest_quarantine", "ingest_files")
INGEST_FILES_COLUMNS = ("relative_path", "run", "dbms", "task", "file_kind", "size", "mtime_ns", "file_hash",
                        "status")
SCAN_SCHEMA = pa.schema([
    ("unit_rel", pa.string()), ("unit_kind", pa.string()), ("name", pa.string()), ("size", pa.int64()),
    ("mtime_ns", pa.int64()),
])
TASK_META_SCHEMA = pa.schema([
    ("relative_path", pa.string()), ("run", pa.string()), ("dbms", pa.string()), ("task", pa.string()),
    ("task_id", pa.int32()), ("has_result", pa.bool_()), ("finished_in_log", pa.bool_()),
    ("folders", pa.list_(pa.string())),
])

_SELECT_START = re.compile(r"\A[\s(]*(?:SELECT|select|WITH|with)(?![A-Za-z0-9_$\u0080-\uffff])")
_BUG_LINE = re.compile(r"^logical bug!!! bugId = (0|[1-9]\d*) sqlId = (0|[1-9]\d*) mutationName = (\S+)$")
# A bug line of task.log without any escape: what parse_logrus_line + _BUG_LINE would read, without
# unquoting character by character. Lines it does not match take the general path.
_PLAIN_BUG_LINE = re.compile(r'^time="([^"\\]*)" level=(\S+) msg="logical bug!!! bugId = (0|[1-9]\d*) '
                             r'sqlId = (0|[1-9]\d*) mutationName = ([^"\\\s]+)"$')
_BUG_IDS = re.compile(r"^bug-(0|[1-9]\d*)-(0|[1-9]\d*)-")
_TASK_FILES = {"task.log": "task_log", "output.data.sql": "data_sql", "result.json": "task_result"}
# What a quarantine reason calls a file of each kind (the parsers' own prefixes).
_KIND_LABELS = {"bug_json": "bug json", "bug_log": "bug log", "task_result": "task result.json",
                "pool_result": "pool result.json", "task_config": "task config", "data_sql": "output.data.sql",
                "task_log": "task.log", "taskpool_log": "taskpool.log", "other": "file"}
_NOT_REGULAR = {stat.S_IFLNK: "symbolic link: not followed", stat.S_IFIFO: "not a regular file: fifo",
                stat.S_IFSOCK: "not a regular file: socket", stat.S_IFCHR: "not a regular file: character device",
                stat.S_IFBLK: "not a regular file: block device", stat.S_IFDIR: "not a regular file: folder"}
# O_NOFOLLOW: a file swapped for a link after the listing is refused (ELOOP), not followed; O_NONBLOCK: a
# fifo swapped in does not block the open (the fstat check then refuses it). Neither changes regular reads.
_OPEN_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK


def _not_regular(mode: int) -> str:
    return _NOT_REGULAR.get(stat.S_IFMT(mode), "not a regular file")


def _too_deep(kind: str) -> str:
    return f"{_KIND_LABELS.get(kind, 'file')}: nested too deeply to parse"


def _folder_unreadable(error: OSError) -> str:
    return f"cannot read the folder: {error.strerror or error}"


class _Refused(Exception):
    """A file ingest will not read (not a regular file, over the size cap): quarantined with `reason`."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


def _excerpt(sql: str, limit: int = 80) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def statement_problem(sql: str, field_name: str) -> str | None:
    """Why `sql` must never be executed as a PINOLO query (not a SELECT, several statements, empty), or None.

    Only the engine's parser decides. It runs when the text contains ';' or does not start, after
    whitespace and '(', with the word SELECT or WITH: a text that does start so and has no ';' has a SELECT
    or WITH as its first token and no statement separator, so the parser cannot find either problem in it.
    Other syntax errors are not this function's business: the verdict step reports them.
    """
    if ";" not in sql and _SELECT_START.match(sql):
        return None
    if not sql.strip():
        return f"empty {field_name}"
    try:
        parse(sql)
        return None
    except RecursionError:
        return f"{field_name} nested too deeply to parse"
    except SqlSyntaxError as error:
        if error.reason.startswith("not a SELECT statement"):
            return f"non-SELECT statement in {field_name}: {_excerpt(sql)}"
        if error.reason.startswith("more than one statement"):
            start = max(0, sql.rfind(";", 0, error.offset + 1) - 50)
            return f"more than one statement in {field_name}: {'…' if start else ''}{_excerpt(sql[start:], 100)}"
        if error.reason.startswith("empty statement"):
            return f"empty {field_name}"
    try:  # a syntax error before the ';' hides a second statement from the parser; the tokens still show it
        keys = tokenize(sql).keys
    except SqlSyntaxError:
        return None
    except RecursionError:  # deeper than the parser's stack: it cannot be shown to be one SELECT
        return f"{field_name} nested too deeply to parse"
    for index, key in enumerate(keys):
        if key == ";" and any(k != ";" for k in keys[index + 1:]):
            return f"more than one statement in {field_name}: {_excerpt(sql)}"
    return None


class _Bug(NamedTuple):
    """The fields of a bug `.json`, as `mutations.formats.BugReport` holds them."""

    report_time: str
    bug_id: int
    sql_id: int
    mutation_name: str
    is_upper: bool
    original_sql: str
    mutated_sql: str

    @property
    def key(self) -> str:
        return f"{self.bug_id}-{self.sql_id}-{self.mutation_name}"


def _parse_bug(data: bytes) -> _Bug:
    """`parse_bug_json`, with a quick path for the usual well-formed file: the same checks (UTF-8, a JSON
    object of exactly the seven fields with exactly their types, non-negative ids), done inline. Anything
    else goes to `parse_bug_json`, whose FormatError names the problem."""
    try:
        record = json.loads(data.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError and JSONDecodeError
        record = None
    if type(record) is dict and len(record) == 7:
        report_time, bug_id, sql_id = record.get("reportTime"), record.get("bugId"), record.get("sqlId")
        name, upper = record.get("mutationName"), record.get("isUpper")
        original, mutated = record.get("originalSql"), record.get("mutatedSql")
        if (type(report_time) is str and type(bug_id) is int and type(sql_id) is int and type(name) is str
                and type(upper) is bool and type(original) is str and type(mutated) is str
                and bug_id >= 0 and sql_id >= 0):
            return _Bug(report_time, bug_id, sql_id, name, upper, original, mutated)
    report = parse_bug_json(data)
    return _Bug(report.report_time, report.bug_id, report.sql_id, report.mutation_name, report.is_upper,
                report.original_sql, report.mutated_sql)


def _open_regular(path: str, cap: int) -> tuple[int, os.stat_result]:
    """An open descriptor of `path` and its stat; _Refused for a link, a non-regular file or one over `cap`."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as error:
        if error.errno == errno.ELOOP:  # O_NOFOLLOW met a symbolic link
            raise _Refused(path, _NOT_REGULAR[stat.S_IFLNK]) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _Refused(path, _not_regular(info.st_mode))
        if info.st_size > cap:
            raise _Refused(path, f"file too large: {info.st_size} bytes, over the {cap}-byte cap "
                                 "(--max-file-size); not read")
    except BaseException:
        os.close(fd)
        raise
    return fd, info


def _grew_past(path: str, cap: int) -> _Refused:
    return _Refused(path, f"file too large: grew past the {cap}-byte cap (--max-file-size) while being read")


def _capped_blocks(fd: int, path: str, cap: int, total: int = 0) -> Iterator[bytes]:
    """The open file's blocks from where it stands to its end, `total` bytes having been read already; the
    file is refused once more than `cap` bytes came in all (never more than cap + 1 are read)."""
    while total <= cap and (block := os.read(fd, min(1 << 20, cap + 1 - total))):
        total += len(block)
        yield block
    if total > cap:
        raise _grew_past(path, cap)


def _read(path: str, cap: int) -> tuple[bytes, int, int]:
    """(bytes, size, mtime_ns): the stat is taken on the open file, so it describes the bytes read. Never
    reads more than cap + 1 bytes, even from a file that grows after the stat."""
    fd, info = _open_regular(path, cap)
    try:
        size = info.st_size
        data = os.read(fd, size + 1)
        if len(data) != size:  # a short read, or the file grew since the stat: read on, up to cap + 1
            data = b"".join([data, *_capped_blocks(fd, path, cap, len(data))])
        return data, size, info.st_mtime_ns
    finally:
        os.close(fd)


def _hash_file(path: str, cap: int) -> tuple[str, int, int]:
    """SHA-256, size and mtime of a file that is only tracked (read in blocks, at most cap + 1 bytes)."""
    digest = hashlib.sha256()
    fd, info = _open_regular(path, cap)
    try:
        for block in _capped_blocks(fd, path, cap):
            digest.update(block)
        return digest.hexdigest(), info.st_size, info.st_mtime_ns
    finally:
        os.close(fd)


@dataclass(slots=True)
class UnitResult:
    """What one unit produced: its rows staged as Parquet files (table -> (path, rows)), task facts, notes
    for the log, and counts. Rows travel through files, not through the pipe: the loader inserts them all
    at the end in one statement per table, which keeps its memory flat."""

    staged: dict[str, tuple[str, int]]
    task_meta: pa.Table | None
    scan: pa.Table | None = None
    notes: list[str] = field(default_factory=list)
    loaded: int = 0
    quarantined: int = 0
    missing: list[str] = field(default_factory=list)  # asked to read, gone by then

    @property
    def files(self) -> int:
        return self.loaded + self.quarantined


class _Rows:
    """Row buffers of one unit; bug_reports and ingest_files rows are tuples in column order (hot paths)."""

    def __init__(self, unit: Unit, max_file_bytes: int) -> None:
        self.unit = unit
        self.max_file_bytes = max_file_bytes
        self.rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in OUT_TABLES}
        self.notes: list[str] = []
        self.parsed: dict[Any, tuple[Any, Any, str]] = {}  # (json name, json hash, log hash) -> what was read
        # A result's columns -> (names, types): a tree's logs repeat a few headers, and the lists are only read.
        self.split_columns: dict[tuple[tuple[str, str], ...], tuple[list[str], list[str]]] = {}
        self.loaded = 0
        self.quarantined = 0
        self.prov = (unit.run, unit.dbms, unit.task, unit.task_id)

    def mark(self) -> tuple[Any, ...]:
        return (tuple(map(len, self.rows.values())), len(self.notes), self.loaded, self.quarantined)

    def rollback(self, mark: tuple[Any, ...]) -> None:
        """Forget what was added since `mark` (a file that vanished or failed half-way through a report)."""
        lengths, notes, self.loaded, self.quarantined = mark
        for rows, length in zip(self.rows.values(), lengths):
            del rows[length:]
        del self.notes[notes:]

    def unreadable(self, rel: str, kind: str, path: str, error: OSError, task: str | None = None) -> None:
        """Quarantine a file that could not be read (or whose report partner could not be)."""
        failed = error.filename
        if failed is None or os.fspath(failed) == path:
            reason = f"cannot read the file: {error.strerror or error}"
        else:
            reason = f"cannot read {os.path.basename(os.fspath(failed))} of the same report: {error.strerror or error}"
        self.unused(rel, kind, path, reason, task)

    def refused(self, rel: str, kind: str, path: str, refusal: _Refused, task: str | None = None) -> None:
        """Quarantine a file ingest would not read (or whose report partner it would not read)."""
        if refusal.path == path:
            self.unused(rel, kind, path, refusal.reason, task)
        else:
            self.unused(rel, kind, path, f"{os.path.basename(refusal.path)} of the same report: {refusal.reason}",
                        task)

    def unused(self, rel: str, kind: str, path: str, reason: str, task: str | None = None) -> None:
        """Quarantine an entry that was not read, with the size and mtime of the entry itself (never of what
        a link points to) and no hash. A later run tries it again (its problem may lie outside its bytes)."""
        try:
            info = os.lstat(path)
            size, mtime = info.st_size, info.st_mtime_ns
        except OSError:
            size = mtime = 0
        self.quarantine(rel, kind, reason, None, size, mtime, task)

    def file(self, rel: str, kind: str, size: int, mtime_ns: int, digest: str | None, ok: bool,
             task: str | None = None) -> None:
        unit = self.unit
        self.rows["ingest_files"].append((rel, unit.run, unit.dbms, task if task is not None else unit.task, kind,
                                          size, mtime_ns, digest, "loaded" if ok else "quarantined"))
        if ok:
            self.loaded += 1
        else:
            self.quarantined += 1

    def quarantine(self, rel: str, kind: str, reason: str, digest: str | None, size: int, mtime_ns: int,
                   task: str | None = None) -> None:
        unit = self.unit
        self.rows["ingest_quarantine"].append(
            {"relative_path": rel, "run": unit.run, "dbms": unit.dbms,
             "task": task if task is not None else unit.task, "file_kind": kind, "reason": reason,
             "file_hash": digest})
        self.file(rel, kind, size, mtime_ns, digest, False, task)

    def record(self, table: str, rel: str, digest: str, values: dict[str, Any], *, task: str | None = None,
               task_id: int | None = None) -> None:
        unit = self.unit
        row = {"run": unit.run, "dbms": unit.dbms, "task": task if task is not None else unit.task,
               "task_id": task_id if task_id is not None else unit.task_id, "relative_path": rel,
               "file_hash": digest}
        row.update(values)
        self.rows[table].append(row)

    def tables(self) -> dict[str, pa.Table]:
        out: dict[str, pa.Table] = {}
        for table, rows in self.rows.items():
            if not rows:
                continue
            if table == "ingest_files":
                names = INGEST_FILES_COLUMNS
                schema = arrow_schema("ingest_files", names)
                columns = list(zip(*rows))
            elif table in ("bug_reports", "task_log_bugs"):
                names = worker_columns(table)
                schema = arrow_schema(table)
                columns = list(zip(*rows))
            else:
                names = worker_columns(table)
                schema = arrow_schema(table)
                columns = [[row.get(name) for row in rows] for name in names]
            out[table] = pa.Table.from_arrays(
                [pa.array(column, type=schema.field(name).type) for name, column in zip(names, columns)],
                schema=schema)
        return out


# -- report folders ------------------------------------------------------------------------------------------


def _disagreement(report: Any, log: Any) -> str | None:
    for what, a, b in (("mutation name", report.mutation_name, log.mutation_name),
                       ("isUpper", report.is_upper, log.is_upper),
                       ("originalSql", report.original_sql, log.original_sql),
                       ("mutatedSql", report.mutated_sql, log.mutated_sql)):
        if a != b:
            return what
    return None


def _reject(rows: _Rows, json_rel: str, reason: str, digest: str, size: int, mtime: int,
            log_rel: str | None, log_info: tuple[bytes, int, int, str] | None, log_reason: str | None = None) -> None:
    rows.quarantine(json_rel, "bug_json", reason, digest, size, mtime)
    if log_info is not None:
        log_reason = log_reason or f"its bug json is quarantined: {reason}"
        rows.quarantine(log_rel, "bug_log", log_reason, log_info[3], log_info[1], log_info[2])  # type: ignore[arg-type]


def _bug_group(rows: _Rows, folder_path: str, folder: str, names: dict[str, str],
               maystable_ids: set[tuple[int, int]], has_result: bool) -> None:
    """One report: `names` maps the extension ('json', 'log', anything else) to a file name in `folder`."""
    unit = rows.unit
    json_name = names.get("json")
    log_name = names.get("log")
    if len(names) > (json_name is not None) + (log_name is not None):
        for ext, name in sorted(names.items()):
            if ext not in ("json", "log"):  # neither .json nor .log: not a report file at all
                digest, size, mtime = _hash_file(f"{folder_path}/{name}", rows.max_file_bytes)
                rows.quarantine(unit.child(f"{folder}/{name}"), "other",
                                "not a PINOLO bug report file (expected bug-<bugId>-<sqlId>-<Name>.json|.log)",
                                digest, size, mtime)

    log_info: tuple[bytes, int, int, str] | None = None
    log_rel: str | None = None
    if log_name is not None:
        data, size, mtime = _read(f"{folder_path}/{log_name}", rows.max_file_bytes)
        log_info = (data, size, mtime, hashlib.sha256(data).hexdigest())
        log_rel = unit.child(f"{folder}/{log_name}")

    if json_name is None:
        if log_info is not None:
            try:
                parse_bug_file_name(log_name)  # type: ignore[arg-type]
                reason = "bug .log without its .json"
            except FormatError as error:
                reason = str(error)
            rows.quarantine(log_rel, "bug_log", reason, log_info[3], log_info[1], log_info[2])  # type: ignore[arg-type]
        return

    json_rel = unit.child(f"{folder}/{json_name}")
    data, size, mtime = _read(f"{folder_path}/{json_name}", rows.max_file_bytes)
    digest = hashlib.sha256(data).hexdigest()
    # ckstable copies a report's two files unchanged into maystable/ or unstable/: the same bytes under the
    # same name read the same, so the copy reuses what was read from bugs/ (everything but the folder check).
    cache_key = (json_name, digest, log_info[3]) if log_info is not None else None
    cached = rows.parsed.get(cache_key) if cache_key is not None else None
    if cached is not None:
        report, summary, hashed = cached
        if folder == "sqlsim" and (report.bug_id, report.sql_id) not in maystable_ids:
            return _reject(rows, json_rel, "sqlsim report without its bug in maystable/", digest, size, mtime,
                           log_rel, log_info)
        return _bug_row(rows, folder, json_rel, digest, size, mtime, log_rel, log_info, report, summary, hashed)
    try:
        named = parse_bug_file_name(json_name)
    except FormatError as error:
        return _reject(rows, json_rel, str(error), digest, size, mtime, log_rel, log_info)
    try:
        report = _parse_bug(data)
    except FormatError as error:
        reason = str(error)
        if not has_result:
            reason += "; the task was killed before result.json (report cut mid-write)"
        return _reject(rows, json_rel, reason, digest, size, mtime, log_rel, log_info)
    except RecursionError:  # e.g. [[[[…]]]] 100,000 deep: the JSON decoder gives up, the file is bad
        return _reject(rows, json_rel, _too_deep("bug_json"), digest, size, mtime, log_rel, log_info)
    name = report.mutation_name
    if not is_known_mutation(name):
        return _reject(rows, json_rel, f"unknown mutation name {name!r}", digest, size, mtime, log_rel, log_info)
    if report.bug_id != named.bug_id or report.sql_id != named.sql_id or name != named.mutation_name:
        return _reject(rows, json_rel, f"file name says {named.key} but the JSON says {report.key}", digest, size,
                       mtime, log_rel, log_info)
    original, mutated = report.original_sql, report.mutated_sql
    problem = statement_problem(original, "originalSql") or statement_problem(mutated, "mutatedSql")
    if problem:
        return _reject(rows, json_rel, problem, digest, size, mtime, log_rel, log_info)
    if folder == "sqlsim" and (report.bug_id, report.sql_id) not in maystable_ids:
        return _reject(rows, json_rel, "sqlsim report without its bug in maystable/", digest, size, mtime, log_rel,
                       log_info)
    if log_info is None:
        return _reject(rows, json_rel, "bug json without its .log", digest, size, mtime, log_rel, log_info)
    try:
        summary = summarize(log_info[0].decode("utf-8"))
    except RecursionError:
        log_reason = _too_deep("bug_log")
        return _reject(rows, json_rel, f"bug json whose .log is unusable: {log_reason}", digest, size, mtime,
                       log_rel, log_info, log_reason)
    except UnicodeDecodeError as error:
        log_reason = f"bug log: not valid UTF-8 (byte {error.start})"
        return _reject(rows, json_rel, f"bug json whose .log is unusable: {log_reason}", digest, size, mtime,
                       log_rel, log_info, log_reason)
    except FormatError as error:
        return _reject(rows, json_rel, f"bug json whose .log is unusable: {error}", digest, size, mtime, log_rel,
                       log_info, str(error))
    if (summary.original_sql != original or summary.mutated_sql != mutated or summary.mutation_name != name
            or summary.is_upper != report.is_upper):
        reason = f"bug json and its .log disagree on {_disagreement(report, summary)}"
        return _reject(rows, json_rel, reason, digest, size, mtime, log_rel, log_info, reason)
    hashed = pair_hash(name, original, mutated)
    rows.parsed[cache_key] = (report, summary, hashed)
    _bug_row(rows, folder, json_rel, digest, size, mtime, log_rel, log_info, report, summary, hashed)


def _bug_row(rows: _Rows, folder: str, json_rel: str, digest: str, size: int, mtime: int, log_rel: str | None,
             log_info: Any, report: _Bug, summary: Any, hashed: str) -> None:
    _, log_size, log_mtime, log_digest = log_info
    so, sm = summary.original, summary.mutated
    run, dbms, task, task_id = rows.prov
    split = rows.split_columns
    original_columns = split.get(so.columns) or split.setdefault(
        so.columns, ([c[0] for c in so.columns], [c[1] for c in so.columns]))
    mutated_columns = split.get(sm.columns) or split.setdefault(
        sm.columns, ([c[0] for c in sm.columns], [c[1] for c in sm.columns]))
    rows.rows["bug_reports"].append((
        run, dbms, task, task_id, json_rel, digest, folder, report.bug_id, report.sql_id, report.mutation_name,
        report.is_upper, report.report_time, report.original_sql, report.mutated_sql, hashed, log_rel, log_digest,
        so.row_count, *original_columns, so.duration, so.duration_ms, so.error,
        sm.row_count, *mutated_columns, sm.duration, sm.duration_ms, sm.error,
        False))
    files = rows.rows["ingest_files"]
    files.append((json_rel, run, dbms, task, "bug_json", size, mtime, digest, "loaded"))
    files.append((log_rel, run, dbms, task, "bug_log", log_size, log_mtime, log_digest, "loaded"))
    rows.loaded += 2


def _split_name(name: str) -> tuple[str, str]:
    stem, dot, ext = name.rpartition(".")
    return (stem, ext) if dot else (name, "")


def _maystable_ids(listing: _Listing) -> set[tuple[int, int]]:
    """(bugId, sqlId) of the .json names in maystable/, from the unit's listing (a link named maystable is
    never listed through)."""
    ids: set[tuple[int, int]] = set()
    for name, _, folder in listing.files:
        if folder == "maystable" and name.endswith(".json"):
            match = _BUG_IDS.match(name[len("maystable/"):])
            if match:
                ids.add((int(match.group(1)), int(match.group(2))))
    return ids


# -- task and pool files -----------------------------------------------------------------------------------


def _task_log(rows: _Rows, rel: str, data: bytes, digest: str, size: int, mtime: int) -> bool:
    """Load the `logical bug!!!` lines; returns whether the log says Finished (also when quarantined)."""
    finished = b'msg="Finished ' in data or b"msg=Finished" in data
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        rows.quarantine(rel, "task_log", f"task.log: not valid UTF-8 (byte {error.start})", digest, size, mtime)
        return finished
    lines = text.split("\n")
    partial = len(lines) - 1 if lines[-1] else -1  # the last line of a killed task may be cut
    run, dbms, task, task_id = rows.prov
    found: list[tuple[Any, ...]] = []  # in worker_columns("task_log_bugs") order
    for index, line in enumerate(lines):
        if "logical bug!!!" not in line:
            continue
        plain = _PLAIN_BUG_LINE.match(line)
        if plain is not None:
            found.append((run, dbms, task, task_id, rel, digest, index + 1, plain.group(1), plain.group(2),
                          int(plain.group(3)), int(plain.group(4)), plain.group(5)))
            continue
        try:
            parsed = parse_logrus_line(line)
        except FormatError as error:
            if index == partial:
                continue
            rows.quarantine(rel, "task_log", f"task.log line {index + 1}: {error}", digest, size, mtime)
            return finished
        match = _BUG_LINE.match(parsed.msg)
        if match is None:
            rows.quarantine(rel, "task_log", f"task.log line {index + 1}: malformed bug line {parsed.msg[:80]!r}",
                            digest, size, mtime)
            return finished
        found.append((run, dbms, task, task_id, rel, digest, index + 1, parsed.time, parsed.level,
                      int(match.group(1)), int(match.group(2)), match.group(3)))
    rows.rows["task_log_bugs"].extend(found)
    rows.file(rel, "task_log", size, mtime, digest, True)
    return finished


def _record_file(rows: _Rows, rel: str, kind: str, path: str, task: str | None = None,
                 task_id: int | None = None) -> bool | None:
    """Read and load one non-report file. Returns finished_in_log for task.log, else None."""
    if kind == "other" or kind == "taskpool_log":
        digest, size, mtime = _hash_file(path, rows.max_file_bytes)
        rows.file(rel, kind, size, mtime, digest, True, task)
        return None
    data, size, mtime = _read(path, rows.max_file_bytes)
    digest = hashlib.sha256(data).hexdigest()
    if kind == "task_log":
        return _task_log(rows, rel, data, digest, size, mtime)
    try:
        if kind == "data_sql":
            try:
                content = data.decode("utf-8")
            except UnicodeDecodeError as error:
                raise FormatError(f"output.data.sql: not valid UTF-8 (byte {error.start})") from None
            rows.record("data_sqls", rel, digest, {"content": content, "sha256": digest, "size": size})
        elif kind == "task_result":
            result = parse_task_result(data)
            rows.record("task_results", rel, digest, {name: getattr(result, name) for name in result.__slots__})
        elif kind == "pool_result":
            pool = parse_pool_result(data)
            values = {name: getattr(pool, name) for name in pool.__slots__}
            values["error_task_ids"] = list(pool.error_task_ids)
            values["bug_task_ids"] = list(pool.bug_task_ids)
            rows.record("pool_results", rel, digest, values)
        elif kind == "task_config":
            config = parse_task_config(data)
            if task_id is not None and config.task_id != task_id:
                raise FormatError(f"task config: taskId {config.task_id} but the file name says task-{task_id}")
            had_password = config.password != ""
            if had_password:
                # The hash of the real bytes would let anyone holding the other columns test password guesses.
                digest = hashlib.sha256(task_config_json(replace(config, password="")).encode("utf-8")).hexdigest()
                rows.notes.append(f"{rel}: held a plaintext password; it was removed and is not stored")
            values = {name: getattr(config, name) for name in config.__slots__ if name not in ("password", "dbms")}
            values.pop("task_id")
            values["config_dbms"] = config.dbms
            values["password_removed"] = had_password
            del config
            rows.record("task_configs", rel, digest, values, task=task, task_id=task_id)
        else:  # pragma: no cover - kinds are fixed above
            raise AssertionError(kind)
    except FormatError as error:
        rows.quarantine(rel, kind, str(error), digest, size, mtime, task)
        return None
    except RecursionError:  # a JSON nested deeper than the decoder's stack: the file is bad, the run goes on
        rows.quarantine(rel, kind, _too_deep(kind), digest, size, mtime, task)
        return None
    rows.file(rel, kind, size, mtime, digest, True, task)
    return None


# -- units ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Listing:
    """The files of a unit: (name relative to the unit, kind, report folder or None); `unusable` maps the
    names that are not read to their quarantine reason (links, fifos and other non-regular files, and
    report folders that cannot be listed, named '<folder>/'); plus task facts."""

    files: list[tuple[str, str, str | None]]
    unusable: dict[str, str]
    folders: list[str]
    has_result: bool


def _report_kind(ext: str) -> str:
    return "bug_json" if ext == "json" else "bug_log" if ext == "log" else "other"


def _top_kind(unit: Unit, name: str) -> str:
    if unit.kind == "task":
        return _TASK_FILES.get(name, "other")
    if name == "result.json":
        return "pool_result"
    if name == "taskpool.log":
        return "taskpool_log"
    if TASK_CONFIG_RE.match(name):
        return "task_config"
    return "other"


def _entry_problem(entry: os.DirEntry[str]) -> str | None:
    """Why an entry that is neither a folder nor a regular file is not read, from the entry alone (a link
    is never followed); None when it is gone or turned out to be a regular file (a race: the next run)."""
    if entry.is_symlink():
        return _NOT_REGULAR[stat.S_IFLNK]
    try:
        mode = entry.stat(follow_symlinks=False).st_mode
    except OSError:
        return None
    return None if stat.S_ISREG(mode) else _not_regular(mode)


def _own_name(unit: Unit) -> str:
    """The name, within the unit, of the unit's own folder when it cannot be listed: its path gets a '/'."""
    return "" if unit.rel else "./"


def _list_unit(root: str, unit: Unit) -> _Listing:
    """OSError when the unit's own folder cannot be listed; a report folder that cannot be is an entry."""
    base = unit.path(root)
    files: list[tuple[str, str, str | None]] = []
    unusable: dict[str, str] = {}
    folders: list[str] = []
    has_result = False
    with os.scandir(base) as entries:
        top = sorted(entries, key=lambda entry: entry.name)
    for entry in top:
        name = entry.name
        if entry.is_dir(follow_symlinks=False):
            if unit.kind == "task" and name in REPORT_FOLDERS:
                inner: list[tuple[str, str | None]] = []
                try:
                    with os.scandir(entry.path) as items:
                        for item in items:
                            if item.is_file(follow_symlinks=False):
                                inner.append((item.name, None))
                            elif not item.is_dir(follow_symlinks=False):
                                problem = _entry_problem(item)
                                if problem is not None:
                                    inner.append((item.name, problem))
                except FileNotFoundError:
                    continue  # gone since the task folder was listed
                except OSError as error:
                    folders.append(name)
                    files.append((f"{name}/", "folder", None))
                    unusable[f"{name}/"] = _folder_unreadable(error)
                    continue
                folders.append(name)
                for item_name, problem in inner:
                    files.append((f"{name}/{item_name}", _report_kind(_split_name(item_name)[1]), name))
                    if problem is not None:
                        unusable[f"{name}/{item_name}"] = problem
            continue
        if is_manifest(name):
            continue
        if entry.is_file(follow_symlinks=False):
            has_result = has_result or (unit.kind == "task" and name == "result.json")
        else:
            problem = _entry_problem(entry)
            if problem is None:
                continue
            unusable[name] = problem
        files.append((name, _top_kind(unit, name), None))
    folders.sort(key=REPORT_FOLDERS.index)
    return _Listing(files, unusable, folders, has_result)


def _list_entries(root: str, unit: Unit) -> list[tuple[str, str, str, int, int]]:
    """The entries discovery could not use, as they are now: (name, kind, reason, size, mtime_ns). A folder
    is named '<name>/'; one that can be listed by now, a regular file or a gone entry is left out."""
    base = unit.path(root)
    found = []
    for name in unit.entries:
        path = os.path.join(base, name)
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode):
            try:
                with os.scandir(path):
                    continue  # readable by now: discovery searches it on the next run
            except FileNotFoundError:
                continue
            except OSError as error:
                found.append((f"{name}/", "folder", _folder_unreadable(error), info.st_size, info.st_mtime_ns))
        elif not stat.S_ISREG(info.st_mode):
            found.append((name, "other", _not_regular(info.st_mode), info.st_size, info.st_mtime_ns))
    return found


def _task_meta(unit: Unit, listing: _Listing, finished: bool | None) -> pa.Table:
    return pa.Table.from_pylist([{
        "relative_path": unit.rel, "run": unit.run, "dbms": unit.dbms, "task": unit.task, "task_id": unit.task_id,
        "has_result": listing.has_result, "finished_in_log": finished, "folders": listing.folders,
    }], schema=TASK_META_SCHEMA)


def _scan_table(unit: Unit, names: list[str], sizes: list[int], mtimes: list[int]) -> pa.Table:
    count = len(names)
    return pa.Table.from_arrays([
        pa.array([unit.rel] * count, pa.string()), pa.array([unit.kind] * count, pa.string()),
        pa.array(names, pa.string()), pa.array(sizes, pa.int64()), pa.array(mtimes, pa.int64()),
    ], schema=SCAN_SCHEMA)


def scan_unit(root: str, unit: Unit) -> UnitResult:
    """List a unit's files with size and mtime, reading nothing: the first phase of an incremental load.

    Per file only the unit-relative name, size and mtime travel back; the loader derives paths, folders
    and report groups in SQL. The listing follows `_list_unit` (and `_list_entries`): the same names, the
    same skips; entries that are not read are listed with the size and mtime of the entry itself.
    """
    base = unit.path(root)
    names: list[str] = []
    sizes: list[int] = []
    mtimes: list[int] = []
    if unit.kind == "entries":
        for name, _, _, size, mtime in _list_entries(root, unit):
            names.append(name)
            sizes.append(size)
            mtimes.append(mtime)
        return UnitResult({}, None, _scan_table(unit, names, sizes, mtimes))
    folders: list[str] = []
    has_result = False
    task = unit.kind == "task"
    try:
        entries = os.scandir(base)
    except FileNotFoundError:  # gone since discovery: its files are marked vanished
        return UnitResult({}, None, _scan_table(unit, names, sizes, mtimes))
    except OSError:  # the unit's own folder, quarantined by read_unit
        try:
            info = os.lstat(base)
        except OSError:
            return UnitResult({}, None, _scan_table(unit, names, sizes, mtimes))
        return UnitResult({}, None, _scan_table(unit, [_own_name(unit)], [info.st_size], [info.st_mtime_ns]))
    with entries:
        for entry in entries:
            name = entry.name
            if entry.is_dir(follow_symlinks=False):
                if task and name in REPORT_FOLDERS:
                    prefix = name + "/"
                    kept = len(names)
                    try:
                        with os.scandir(entry.path) as inner:
                            for item in inner:
                                if item.is_file(follow_symlinks=False):
                                    info = item.stat(follow_symlinks=False)
                                elif item.is_dir(follow_symlinks=False) or _entry_problem(item) is None:
                                    continue
                                else:
                                    info = item.stat(follow_symlinks=False)
                                names.append(prefix + item.name)
                                sizes.append(info.st_size)
                                mtimes.append(info.st_mtime_ns)
                    except FileNotFoundError:
                        del names[kept:], sizes[kept:], mtimes[kept:]
                        continue
                    except OSError:
                        del names[kept:], sizes[kept:], mtimes[kept:]
                        info = entry.stat(follow_symlinks=False)
                        names.append(prefix)
                        sizes.append(info.st_size)
                        mtimes.append(info.st_mtime_ns)
                    folders.append(name)
                continue
            if is_manifest(name):
                continue
            if entry.is_file(follow_symlinks=False):
                has_result = has_result or (task and name == "result.json")
            elif _entry_problem(entry) is None:
                continue
            info = entry.stat(follow_symlinks=False)
            names.append(name)
            sizes.append(info.st_size)
            mtimes.append(info.st_mtime_ns)
    folders.sort(key=REPORT_FOLDERS.index)
    meta = _task_meta(unit, _Listing([], {}, folders, has_result), None) if task else None
    return UnitResult({}, meta, _scan_table(unit, names, sizes, mtimes))


def _stage(tables: dict[str, pa.Table], stage: str, key: str) -> dict[str, tuple[str, int]]:
    staged = {}
    for table, data in tables.items():
        folder = os.path.join(stage, table)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{key}.parquet")
        pq.write_table(data, path, compression="none", use_dictionary=False, write_statistics=False)
        staged[table] = (path, data.num_rows)
    return staged


def _result(rows: _Rows, stage: str, key: str, meta: pa.Table | None, missing: list[str]) -> UnitResult:
    return UnitResult(_stage(rows.tables(), stage, key), meta, None, rows.notes, rows.loaded, rows.quarantined,
                      sorted(missing))


def _refuse_group(rows: _Rows, unit: Unit, folder: str, folder_path: str, names: dict[str, str],
                  problems: dict[str, str]) -> None:
    """A report with a member that is not read: every member is quarantined (a report is loaded whole or
    not at all), the others naming the first such member."""
    first = min(problems)
    for ext, name in sorted(names.items()):
        reason = problems.get(name) or f"{first} of the same report: {problems[first]}"
        rows.unused(unit.child(f"{folder}/{name}"), _report_kind(ext), f"{folder_path}/{name}", reason)


def read_unit(root: str, unit: Unit, only: frozenset[str] | None, stage: str, key: str,
              max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> UnitResult:
    """Read a unit's files (all of them, or the names in `only`, relative to the unit) into rows, staged
    as `<stage>/<table>/<key>.parquet`. No file over `max_file_bytes` is read."""
    rows = _Rows(unit, max_file_bytes)
    base = unit.path(root)
    if unit.kind == "entries":
        listed = _list_entries(root, unit)
        for name, kind, reason, size, mtime in listed:
            if only is None or name in only:
                rows.quarantine(unit.child(name), kind, reason, None, size, mtime)
        present = {entry[0] for entry in listed}
        return _result(rows, stage, key, None, [unit.child(name) for name in only or () if name not in present])
    try:
        listing = _list_unit(root, unit)
    except FileNotFoundError:
        return UnitResult({}, None, missing=sorted(unit.child(name) for name in only or ()))
    except OSError as error:  # the unit's folder itself: quarantined under '<path>/', its files unseen
        own = _own_name(unit)
        if only is None or own in only:
            rows.unused(unit.child(own), "folder", base, _folder_unreadable(error))
        return _result(rows, stage, key, None, [unit.child(name) for name in only or () if name != own])
    present = {name for name, _, _ in listing.files}
    missing = sorted(unit.child(name) for name in (only or ()) if name not in present)
    finished: bool | None = None
    groups: dict[tuple[str, str], dict[str, str]] = {}
    for name, kind, folder in listing.files:
        if only is not None and name not in only:
            continue
        if folder is not None:
            stem, ext = _split_name(name[len(folder) + 1:])
            groups.setdefault((folder, stem), {})[ext] = name[len(folder) + 1:]
            continue
        rel = unit.child(name)
        path = os.path.join(base, name.rstrip("/"))
        task: str | None = None
        task_id: int | None = None
        if unit.kind == "pool" and kind == "task_config":
            task_id = int(TASK_CONFIG_RE.match(name).group(1))  # type: ignore[union-attr]
            task = f"task-{task_id}"
        problem = listing.unusable.get(name)
        if problem is not None:
            rows.unused(rel, kind, path, problem, task)
            continue
        mark = rows.mark()
        try:
            result = _record_file(rows, rel, kind, path, task=task, task_id=task_id)
            if kind == "task_log":
                finished = result
        except FileNotFoundError:
            rows.rollback(mark)
            missing.append(rel)
        except OSError as error:
            rows.rollback(mark)
            rows.unreadable(rel, kind, path, error, task)
        except _Refused as refusal:
            rows.rollback(mark)
            rows.refused(rel, kind, path, refusal, task)
        except RecursionError:  # a parser without its own guard: the file is bad, the run goes on
            rows.rollback(mark)
            rows.unused(rel, kind, path, _too_deep(kind), task)
    if groups:
        maystable = _maystable_ids(listing)
        for (folder, _), names in sorted(groups.items()):
            folder_path = f"{base}/{folder}"
            problems = {name: listing.unusable[f"{folder}/{name}"] for name in names.values()
                        if f"{folder}/{name}" in listing.unusable}
            if problems:
                _refuse_group(rows, unit, folder, folder_path, names, problems)
                continue
            mark = rows.mark()
            try:
                _bug_group(rows, folder_path, folder, names, maystable, listing.has_result)
            except FileNotFoundError:
                rows.rollback(mark)
                missing.extend(unit.child(f"{folder}/{name}") for name in names.values())
            except OSError as error:
                rows.rollback(mark)
                for ext, name in sorted(names.items()):
                    rows.unreadable(unit.child(f"{folder}/{name}"), _report_kind(ext), f"{folder_path}/{name}",
                                    error)
            except _Refused as refusal:
                rows.rollback(mark)
                for ext, name in sorted(names.items()):
                    rows.refused(unit.child(f"{folder}/{name}"), _report_kind(ext), f"{folder_path}/{name}",
                                 refusal)
            except RecursionError:
                rows.rollback(mark)
                for ext, name in sorted(names.items()):
                    rows.unused(unit.child(f"{folder}/{name}"), _report_kind(ext), f"{folder_path}/{name}",
                                "bug report nested too deeply to parse")
    meta = _task_meta(unit, listing, finished) if unit.kind == "task" else None
    return _result(rows, stage, key, meta, missing)
