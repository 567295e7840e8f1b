"""Reading one unit of a PINOLO tree (a task folder, or the top of a pool) into rows: runs in worker processes.

Every file a unit reads ends as exactly one `ingest_files` row with status `loaded` or `quarantined`; a
quarantined file also gets an `ingest_quarantine` row with the reason. Nothing here raises for bad input:
a file that cannot be used is a row with a reason. Rows go back to the loader as Arrow tables.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
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

__all__ = ["SCAN_SCHEMA", "TASK_META_SCHEMA", "UnitResult", "read_unit", "scan_unit", "statement_problem"]

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


def _read(path: str) -> tuple[bytes, int, int]:
    """(bytes, size, mtime_ns): the stat is taken on the open file, so it describes the bytes read."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        stat = os.fstat(fd)
        data = os.read(fd, stat.st_size + 1)
        if len(data) > stat.st_size:
            chunks = [data]
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            data = b"".join(chunks)
        return data, stat.st_size, stat.st_mtime_ns
    finally:
        os.close(fd)


def _hash_file(path: str) -> tuple[str, int, int]:
    """SHA-256, size and mtime of a file that is only tracked (read in blocks: it may be large)."""
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        stat = os.fstat(fd)
        while block := os.read(fd, 1 << 20):
            digest.update(block)
        return digest.hexdigest(), stat.st_size, stat.st_mtime_ns
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

    def __init__(self, unit: Unit) -> None:
        self.unit = unit
        self.rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in OUT_TABLES}
        self.notes: list[str] = []
        self.parsed: dict[Any, tuple[Any, Any, str]] = {}  # (json name, json hash, log hash) -> what was read
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

    def unreadable(self, rel: str, kind: str, path: str, error: OSError) -> None:
        """Quarantine a file that could not be read (or whose report partner could not be)."""
        try:
            stat = os.lstat(path)
            size, mtime = stat.st_size, stat.st_mtime_ns
        except OSError:
            size = mtime = 0
        failed = error.filename
        if failed is None or os.fspath(failed) == path:
            reason = f"cannot read the file: {error.strerror or error}"
        else:
            reason = f"cannot read {os.path.basename(os.fspath(failed))} of the same report: {error.strerror or error}"
        self.quarantine(rel, kind, reason, None, size, mtime)

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
                digest, size, mtime = _hash_file(f"{folder_path}/{name}")
                rows.quarantine(unit.child(f"{folder}/{name}"), "other",
                                "not a PINOLO bug report file (expected bug-<bugId>-<sqlId>-<Name>.json|.log)",
                                digest, size, mtime)

    log_info: tuple[bytes, int, int, str] | None = None
    log_rel: str | None = None
    if log_name is not None:
        data, size, mtime = _read(f"{folder_path}/{log_name}")
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
    data, size, mtime = _read(f"{folder_path}/{json_name}")
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
    rows.rows["bug_reports"].append((
        run, dbms, task, task_id, json_rel, digest, folder, report.bug_id, report.sql_id, report.mutation_name,
        report.is_upper, report.report_time, report.original_sql, report.mutated_sql, hashed, log_rel, log_digest,
        so.row_count, [c[0] for c in so.columns], [c[1] for c in so.columns], so.duration, so.duration_ms, so.error,
        sm.row_count, [c[0] for c in sm.columns], [c[1] for c in sm.columns], sm.duration, sm.duration_ms, sm.error,
        False))
    files = rows.rows["ingest_files"]
    files.append((json_rel, run, dbms, task, "bug_json", size, mtime, digest, "loaded"))
    files.append((log_rel, run, dbms, task, "bug_log", log_size, log_mtime, log_digest, "loaded"))
    rows.loaded += 2


def _split_name(name: str) -> tuple[str, str]:
    stem, dot, ext = name.rpartition(".")
    return (stem, ext) if dot else (name, "")


def _maystable_ids(path: str) -> set[tuple[int, int]]:
    ids: set[tuple[int, int]] = set()
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.name.endswith(".json"):
                    match = _BUG_IDS.match(entry.name)
                    if match:
                        ids.add((int(match.group(1)), int(match.group(2))))
    except FileNotFoundError:
        pass
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
        digest, size, mtime = _hash_file(path)
        rows.file(rel, kind, size, mtime, digest, True, task)
        return None
    data, size, mtime = _read(path)
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
    rows.file(rel, kind, size, mtime, digest, True, task)
    return None


# -- units ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Listing:
    """The files of a unit: (relative name, kind, folder or None, size, mtime_ns) plus task facts."""

    files: list[tuple[str, str, str | None, int, int]]
    folders: list[str]
    has_result: bool


def _list_unit(root: str, unit: Unit, with_stat: bool) -> _Listing:
    base = unit.path(root)
    files: list[tuple[str, str, str | None, int, int]] = []
    folders: list[str] = []
    has_result = False
    with os.scandir(base) as entries:
        top = sorted(entries, key=lambda entry: entry.name)
    for entry in top:
        name = entry.name
        if entry.is_dir(follow_symlinks=False):
            if unit.kind == "task" and name in REPORT_FOLDERS:
                folders.append(name)
                with os.scandir(entry.path) as inner:
                    for item in inner:
                        if item.is_file(follow_symlinks=False):
                            ext = _split_name(item.name)[1]
                            kind = "bug_json" if ext == "json" else "bug_log" if ext == "log" else "other"
                            if with_stat:
                                stat = item.stat(follow_symlinks=False)
                                files.append((f"{name}/{item.name}", kind, name, stat.st_size, stat.st_mtime_ns))
                            else:
                                files.append((f"{name}/{item.name}", kind, name, 0, 0))
            continue
        if not entry.is_file(follow_symlinks=False) or is_manifest(name):
            continue
        if unit.kind == "task":
            kind = _TASK_FILES.get(name, "other")
            has_result = has_result or name == "result.json"
        elif name == "result.json":
            kind = "pool_result"
        elif name == "taskpool.log":
            kind = "taskpool_log"
        elif TASK_CONFIG_RE.match(name):
            kind = "task_config"
        else:
            kind = "other"
        if with_stat:
            stat = entry.stat(follow_symlinks=False)
            files.append((name, kind, None, stat.st_size, stat.st_mtime_ns))
        else:
            files.append((name, kind, None, 0, 0))
    folders.sort(key=REPORT_FOLDERS.index)
    return _Listing(files, folders, has_result)


def _task_meta(unit: Unit, listing: _Listing, finished: bool | None) -> pa.Table:
    return pa.Table.from_pylist([{
        "relative_path": unit.rel, "run": unit.run, "dbms": unit.dbms, "task": unit.task, "task_id": unit.task_id,
        "has_result": listing.has_result, "finished_in_log": finished, "folders": listing.folders,
    }], schema=TASK_META_SCHEMA)


def scan_unit(root: str, unit: Unit) -> UnitResult:
    """List a unit's files with size and mtime, reading nothing: the first phase of an incremental load.

    Per file only the unit-relative name, size and mtime travel back; the loader derives paths, folders
    and report groups in SQL. The listing follows `_list_unit`: the same files, the same skips.
    """
    base = unit.path(root)
    names: list[str] = []
    sizes: list[int] = []
    mtimes: list[int] = []
    folders: list[str] = []
    has_result = False
    task = unit.kind == "task"
    with os.scandir(base) as entries:
        for entry in entries:
            name = entry.name
            if entry.is_dir(follow_symlinks=False):
                if task and name in REPORT_FOLDERS:
                    folders.append(name)
                    prefix = name + "/"
                    with os.scandir(entry.path) as inner:
                        for item in inner:
                            if item.is_file(follow_symlinks=False):
                                stat = item.stat(follow_symlinks=False)
                                names.append(prefix + item.name)
                                sizes.append(stat.st_size)
                                mtimes.append(stat.st_mtime_ns)
                continue
            if not entry.is_file(follow_symlinks=False) or is_manifest(name):
                continue
            stat = entry.stat(follow_symlinks=False)
            names.append(name)
            sizes.append(stat.st_size)
            mtimes.append(stat.st_mtime_ns)
            has_result = has_result or (task and name == "result.json")
    count = len(names)
    scan = pa.Table.from_arrays([
        pa.array([unit.rel] * count, pa.string()), pa.array([unit.kind] * count, pa.string()),
        pa.array(names, pa.string()), pa.array(sizes, pa.int64()), pa.array(mtimes, pa.int64()),
    ], schema=SCAN_SCHEMA)
    folders.sort(key=REPORT_FOLDERS.index)
    meta = _task_meta(unit, _Listing([], folders, has_result), None) if task else None
    return UnitResult({}, meta, scan)


def _stage(tables: dict[str, pa.Table], stage: str, key: str) -> dict[str, tuple[str, int]]:
    staged = {}
    for table, data in tables.items():
        folder = os.path.join(stage, table)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{key}.parquet")
        pq.write_table(data, path, compression="none", use_dictionary=False, write_statistics=False)
        staged[table] = (path, data.num_rows)
    return staged


def read_unit(root: str, unit: Unit, only: frozenset[str] | None, stage: str, key: str) -> UnitResult:
    """Read a unit's files (all of them, or the names in `only`, relative to the unit) into rows, staged
    as `<stage>/<table>/<key>.parquet`."""
    rows = _Rows(unit)
    base = unit.path(root)
    try:
        listing = _list_unit(root, unit, with_stat=False)
    except FileNotFoundError:
        return UnitResult({}, None, missing=sorted(unit.child(name) for name in only or ()))
    present = {name for name, _, _, _, _ in listing.files}
    missing = sorted(unit.child(name) for name in (only or ()) if name not in present)
    finished: bool | None = None
    groups: dict[tuple[str, str], dict[str, str]] = {}
    for name, kind, folder, _, _ in listing.files:
        if only is not None and name not in only:
            continue
        if folder is not None:
            stem, ext = _split_name(name[len(folder) + 1:])
            groups.setdefault((folder, stem), {})[ext] = name[len(folder) + 1:]
            continue
        rel = unit.child(name)
        path = os.path.join(base, name)
        mark = rows.mark()
        task: str | None = None
        task_id: int | None = None
        if unit.kind == "pool" and kind == "task_config":
            task_id = int(TASK_CONFIG_RE.match(name).group(1))  # type: ignore[union-attr]
            task = f"task-{task_id}"
        try:
            result = _record_file(rows, rel, kind, path, task=task, task_id=task_id)
            if kind == "task_log":
                finished = result
        except FileNotFoundError:
            rows.rollback(mark)
            missing.append(rel)
        except OSError as error:
            rows.rollback(mark)
            rows.unreadable(rel, kind, path, error)
    if groups:
        maystable = _maystable_ids(f"{base}/maystable")
        for (folder, _), names in sorted(groups.items()):
            mark = rows.mark()
            try:
                _bug_group(rows, f"{base}/{folder}", folder, names, maystable, listing.has_result)
            except FileNotFoundError:
                rows.rollback(mark)
                missing.extend(unit.child(f"{folder}/{name}") for name in names.values())
            except OSError as error:
                rows.rollback(mark)
                for ext, name in sorted(names.items()):
                    kind = "bug_json" if ext == "json" else "bug_log" if ext == "log" else "other"
                    rows.unreadable(unit.child(f"{folder}/{name}"), kind, f"{base}/{folder}/{name}", error)
    meta = _task_meta(unit, listing, finished) if unit.kind == "task" else None
    staged = _stage(rows.tables(), stage, key)
    return UnitResult(staged, meta, None, rows.notes, rows.loaded, rows.quarantined, sorted(missing))
