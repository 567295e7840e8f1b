"""`ingest pairs`: pairs from outside PINOLO (hand-reduced bug reports, pairs from papers) into raw.external_pairs.

The input is JSON lines, one pair per line: `original` and `mutated` (required strings), and optionally
`strategy`, `dbms`, `ddl`, `url`; any other key is ignored. Each pair is judged by the mutation engine:

* with a `strategy`: `mutations.judge` must find that it conforms. A pair written backwards (the mutated
  query first) that the strategy explains the other way round is stored the right way round and flagged
  `is_reversed`; any other non-conforming pair is quarantined with the checker's reason;
* without one: `mutations.identify` lists every strategy that explains it, either way round. The first
  forward one (in the order of the 18) is stored; if only backward ones explain it, the first of those, with
  the texts swapped and `is_reversed`; if none does, the pair is quarantined.

Stored rows carry their source name, file, line, the file's sha256 and the ingest run id; their verdicts go
to raw.mutation_verdicts at once (so `pinoloft transform` joins them like PINOLO pairs' verdicts). A line whose
pair (same strategy and texts, after any swap) is already stored from this file counts as a duplicate. The
whole load is one transaction, and loading the same file again first deletes what it stored and quarantined
before: the file's rows are replaced, never added twice.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mutations import STRATEGIES, identify, judge
from mutations.batch import read_record
from mutations.fingerprint import pair_hash
from pinoloft_base.warehouse import columns, ensure_schema, write_transaction

from .errors import IngestError, SourceError
from .verdicts import engine_version

log = logging.getLogger("ingest.pairs")

REQUIRED_KEYS = ("original", "mutated")
OPTIONAL_KEYS = ("strategy", "dbms", "ddl", "url")
# The DBMSs the dataset's prompts can name (dbt_project/seeds/dbms_display_names.csv).
KNOWN_DBMS = ("mysql", "mariadb", "tidb", "oceanbase")
DEFAULT_DBMS = "mysql"
QUARANTINE_KIND = "external_pair"


@dataclass(slots=True)
class ExternalPairsReport:
    """What one load did: `lines = stored + quarantined + duplicates` (blank lines are not counted)."""

    ingest_run_id: int
    source: str
    source_file: str
    file_hash: str
    lines: int = 0
    stored: int = 0
    reversed: int = 0
    quarantined: int = 0
    duplicates: int = 0
    replaced: int = 0  # rows of an earlier load of this file (stored + quarantined) that this one replaced
    reasons: list[tuple[int, str]] = field(default_factory=list)  # (line, reason) of each quarantined line

    @property
    def reconciliation(self) -> str:
        return (f"lines {self.lines} = stored {self.stored} + quarantined {self.quarantined} + duplicates "
                f"{self.duplicates}; {self.reversed} stored the right way round (written backwards)")

    def describe(self) -> str:
        head = (f"ingest pairs run {self.ingest_run_id}: {self.source_file} as source {self.source!r}"
                + (f" (replacing {self.replaced} row(s) of an earlier load)" if self.replaced else ""))
        return "\n".join([head, self.reconciliation]
                         + [f"  line {line}: quarantined: {reason}" for line, reason in self.reasons])


@dataclass(frozen=True, slots=True)
class _Judged:
    """A pair as it will be stored (original -> mutated), or the reason it is quarantined."""

    strategy: str | None = None
    is_upper: bool | None = None
    is_reversed: bool = False
    original: str = ""
    mutated: str = ""
    identified: tuple[str, ...] = ()
    reason: str | None = None


def _judge_pair(original: str, mutated: str, strategy: str | None) -> _Judged:
    if strategy is not None:
        verdict = judge(original, mutated, strategy).verdict
        if verdict.conforms:
            return _Judged(strategy, verdict.is_upper, False, original, mutated, (strategy,))
        backwards = [item for item in identify(original, mutated) if item.strategy == strategy and item.reversed]
        if backwards:
            return _Judged(strategy, backwards[0].is_upper, True, mutated, original, (f"{strategy} (reversed)",))
        return _Judged(reason=f"not a {strategy} mutation: {verdict.reason}")
    found = identify(original, mutated)
    names = tuple(item.strategy + (" (reversed)" if item.reversed else "") for item in found)
    if not found:
        return _Judged(reason="no strategy turns one query into the other (in either direction)")
    chosen = found[0]  # forward ones come first, each direction in the order of the 18
    if chosen.reversed:
        return _Judged(chosen.strategy, chosen.is_upper, True, mutated, original, names)
    return _Judged(chosen.strategy, chosen.is_upper, False, original, mutated, names)


def _line_reason(record: dict[str, Any], default_dbms: str) -> tuple[str | None, str | None, str | None]:
    """(strategy, dbms, None) from a record's optional keys, or (None, None, why the line is unusable)."""
    strategy = record.get("strategy")
    if strategy is not None and (not isinstance(strategy, str) or strategy not in STRATEGIES):
        return None, None, f"unknown strategy {strategy!r} (expected one of PINOLO's 18, e.g. FixMDistinctL)"
    dbms = record.get("dbms", default_dbms)
    if not isinstance(dbms, str) or dbms.lower() not in KNOWN_DBMS:
        return None, None, f"unknown dbms {dbms!r} (expected one of {', '.join(KNOWN_DBMS)})"
    for key in ("ddl", "url"):
        if record.get(key) is not None and not isinstance(record[key], str):
            return None, None, f"field {key} must be a string"
    return strategy, dbms.lower(), None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def load_external_pairs(warehouse: str | os.PathLike[str], path: str | os.PathLike[str], source: str, *,
                        default_dbms: str = DEFAULT_DBMS) -> ExternalPairsReport:
    """Load one JSONL file of pairs as source `source` (see the module's doc); returns the counts.

    SourceError when the file is missing or the source name is empty; WarehouseBusyError when another process
    writes the warehouse. Bad lines never raise: they are quarantined with their line number and reason.
    """
    if not source or not source.strip():
        raise IngestError("--source must name where the pairs come from (e.g. pinolo-bugs-2023)")
    if source.strip().lower() == "pinolo":
        raise IngestError("--source 'pinolo' is the name of pairs from PINOLO's own runs; choose another")
    if default_dbms.lower() not in KNOWN_DBMS:
        raise IngestError(f"--dbms must be one of {', '.join(KNOWN_DBMS)}, got {default_dbms!r}")
    file = Path(path)
    if not file.is_file():
        raise SourceError(f"no such file: {file}")
    data = file.read_bytes()
    source_file = str(file.resolve())
    file_hash = hashlib.sha256(data).hexdigest()
    started = _now()
    version = engine_version()
    stored: list[dict[str, Any]] = []
    quarantined: list[dict[str, Any]] = []
    seen_hashes: set[str] = set()
    with write_transaction(warehouse) as con:
        ensure_schema(con, "raw")
        run_id = con.execute("SELECT coalesce(max(ingest_run_id), 0) + 1 FROM raw.ingest_runs").fetchall()[0][0]
        report = ExternalPairsReport(run_id, source, source_file, file_hash)
        for number, raw in enumerate(data.splitlines(), start=1):
            if not raw.strip():
                continue
            report.lines += 1
            record, reason = read_record(raw, REQUIRED_KEYS)
            strategy = dbms = None
            if record is not None:
                strategy, dbms, reason = _line_reason(record, default_dbms)
            judged = None
            if reason is None and record is not None:
                judged = _judge_pair(record["original"], record["mutated"], strategy)
                reason = judged.reason
            if reason is not None or judged is None or record is None:
                report.quarantined += 1
                report.reasons.append((number, reason or "unusable line"))
                quarantined.append({"relative_path": f"{file.name}:{number}", "dbms": dbms, "reason": reason})
                continue
            assert judged.strategy is not None
            hashed = pair_hash(judged.strategy, judged.original, judged.mutated)
            if hashed in seen_hashes:
                report.duplicates += 1
                continue
            seen_hashes.add(hashed)
            report.stored += 1
            report.reversed += judged.is_reversed
            stored.append({
                "line_number": number, "strategy": judged.strategy, "is_upper": judged.is_upper,
                "is_reversed": judged.is_reversed, "strategy_given": strategy is not None,
                "identified": list(judged.identified), "dbms": dbms, "ddl": record.get("ddl"),
                "url": record.get("url"), "original_sql": judged.original, "mutated_sql": judged.mutated,
                "pair_hash": hashed,
            })
        report.replaced = _forget_file(con, source_file)
        _insert(con, "external_pairs", [
            {**row, "source": source, "source_file": source_file, "file_hash": file_hash, "ingested_at": started,
             "ingest_run_id": run_id} for row in stored])
        _insert(con, "ingest_quarantine", [
            {**row, "source_root": source_file, "run": None, "task": None, "file_kind": QUARANTINE_KIND,
             "file_hash": file_hash, "ingested_at": started, "ingest_run_id": run_id} for row in quarantined])
        _store_verdicts(con, stored, version)
        con.execute("INSERT INTO raw.ingest_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [run_id, source_file, started, _now(), 1, 1, 0, 0, 0, report.reconciliation])
    log.debug("%s", report.reconciliation)
    return report


def _forget_file(con: Any, source_file: str) -> int:
    """Delete what an earlier load of this file stored and quarantined; returns how many rows that was."""
    before = con.execute(
        "SELECT (SELECT count(*) FROM raw.external_pairs WHERE source_file = ?) + "
        "(SELECT count(*) FROM raw.ingest_quarantine WHERE source_root = ? AND file_kind = ?)",
        [source_file, source_file, QUARANTINE_KIND]).fetchall()[0][0]
    con.execute("DELETE FROM raw.external_pairs WHERE source_file = ?", [source_file])
    con.execute("DELETE FROM raw.ingest_quarantine WHERE source_root = ? AND file_kind = ?",
                [source_file, QUARANTINE_KIND])
    return before


def _insert(con: Any, table: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    names = columns("raw", table)
    con.executemany(f"INSERT INTO raw.{table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                    [[row[name] for name in names] for row in rows])


def _store_verdicts(con: Any, stored: list[dict[str, Any]], version: str) -> None:
    """The verdict of every stored pair that has none yet (pair_hash is the verdicts' key, so a pair that a
    PINOLO run or an earlier load already brought keeps its verdict)."""
    if not stored:
        return
    hashes = [row["pair_hash"] for row in stored]
    known = {hashed for (hashed,) in con.execute(
        "SELECT pair_hash FROM raw.mutation_verdicts WHERE list_contains(?, pair_hash)", [hashes]).fetchall()}
    checked_at = _now()
    rows = []
    for row in stored:
        if row["pair_hash"] in known:
            continue
        judgement = judge(row["original_sql"], row["mutated_sql"], row["strategy"])
        verdict = judgement.verdict
        rows.append({
            "pair_hash": row["pair_hash"], "strategy": row["strategy"], "original_sql": row["original_sql"],
            "mutated_sql": row["mutated_sql"], "conforms": verdict.conforms, "is_upper": verdict.is_upper,
            "reason": verdict.reason, "original_fingerprint": judgement.original_fingerprint,
            "pair_fingerprint": judgement.pair_fingerprint, "checked_at": checked_at, "engine_version": version,
        })
    _insert(con, "mutation_verdicts", rows)
