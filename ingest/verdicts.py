"""`check`: the engine's verdict, once per distinct pair, for every pair of the warehouse not judged yet.

A pair is (mutation name, original SQL, mutated SQL), keyed by `pair_hash`. Its sources are every row of
raw.bug_reports (all four folders, so the raw form and the sqlsim form are both judged) and both forms of
every row of raw.synthetic_pairs. `mutations.judge` gives the verdict and the fingerprints from one
tokenization. Work is spread over all cores; verdicts are committed in batches, so an interrupted check
keeps what it finished and a rerun goes on from there (a rerun with nothing new only runs one query).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from mutations import judge
from mutations.batch import batch_collections
from pinoloft_base.console import progress_bar
from pinoloft_base.warehouse import connect, ensure_schema

from .errors import IngestError, WarehouseError
from .parallel import WorkerPool

log = logging.getLogger("ingest.check")

CHUNK = 256  # pairs per worker job
BATCH = 8192  # pairs fetched from DuckDB (and committed) at a time

_ENGINE_FILES = ("checker.py", "engine.py", "fingerprint.py", "parser.py", "patterns.py", "strategies.py",
                 "tokens.py")

# One row per pair_hash without a verdict: the first report of each (in load order, which keeps the
# mutants of one original close together, so the engine's parse cache serves them), then the synthetic
# pairs' raw and sqlsim forms that no report has. Deduplicating on row ids, not on the texts, keeps the
# memory this needs small.
_PENDING = """
    SELECT pair_hash, mutation_name AS strategy, original_sql, mutated_sql FROM raw.bug_reports
    WHERE rowid IN (SELECT min(rowid) FROM raw.bug_reports
                    WHERE pair_hash NOT IN (SELECT pair_hash FROM raw.mutation_verdicts) GROUP BY pair_hash)
    UNION ALL
    SELECT pair_hash, any_value(strategy), any_value(original_sql), any_value(mutated_sql) FROM (
        SELECT pair_hash, strategy, original_sql, mutated_sql FROM raw.synthetic_pairs
        UNION ALL
        SELECT sha256(strategy || chr(31) || original_sqlsim || chr(31) || mutated_sqlsim), strategy,
               original_sqlsim, mutated_sqlsim
        FROM raw.synthetic_pairs WHERE original_sqlsim IS NOT NULL AND mutated_sqlsim IS NOT NULL
    ) AS s
    WHERE pair_hash NOT IN (SELECT pair_hash FROM raw.mutation_verdicts)
      AND pair_hash NOT IN (SELECT pair_hash FROM raw.bug_reports)
    GROUP BY pair_hash
"""

_RESULT_SCHEMA = pa.schema([
    ("pair_hash", pa.string()), ("conforms", pa.bool_()), ("is_upper", pa.bool_()), ("reason", pa.string()),
    ("original_fingerprint", pa.string()), ("pair_fingerprint", pa.string()),
])


def engine_version() -> str:
    """`mutations <version>+<sha256 of the engine's sources, 12 hex>`: changes whenever the judge can."""
    from importlib.metadata import PackageNotFoundError, version

    import mutations

    try:
        release = version("pinoloft")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        release = "0"
    digest = hashlib.sha256()
    folder = Path(mutations.__file__).parent
    for name in _ENGINE_FILES:
        digest.update(name.encode() + b"\0" + (folder / name).read_bytes())
    return f"mutations {release}+{digest.hexdigest()[:12]}"


@dataclass(slots=True)
class CheckReport:
    pairs: int
    conforming: int
    seconds: float
    jobs: int
    engine_version: str
    by_strategy: Counter[str] = field(default_factory=Counter)
    conforming_by_strategy: Counter[str] = field(default_factory=Counter)
    total_verdicts: int = 0

    @property
    def pairs_per_second(self) -> float:
        return self.pairs / self.seconds if self.seconds > 0 else 0.0

    def describe(self) -> str:
        if not self.pairs:
            return (f"check: nothing new to judge ({self.total_verdicts} verdicts in the warehouse; "
                    f"{self.seconds:.1f}s)")
        head = (f"check: judged {self.pairs} new pair(s) in {self.seconds:.1f}s ({self.pairs_per_second:.0f} "
                f"pairs/s on {self.jobs} process(es)), {self.conforming} conforming; engine {self.engine_version}")
        lines = [head]
        for name, total in sorted(self.by_strategy.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  {name:<16} {total:>8} judged  {self.conforming_by_strategy[name]:>8} conforming")
        lines.append(f"  {self.total_verdicts} verdicts in the warehouse")
        return "\n".join(lines)


def _judge_chunk(chunk: list[tuple[str, str, str, str]]) -> list[tuple[Any, ...]]:
    out = []
    with batch_collections():
        for pair_hash, strategy, original, mutated in chunk:
            judgement = judge(original, mutated, strategy)
            verdict = judgement.verdict
            out.append((pair_hash, verdict.conforms, verdict.is_upper, verdict.reason,
                        judgement.original_fingerprint, judgement.pair_fingerprint))
    return out


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def check_pairs(warehouse: str | os.PathLike[str], *, jobs: int | None = None,
                quiet: bool | None = None) -> CheckReport:
    """Judge every pair without a verdict; returns what was done. WarehouseError if there is no warehouse."""
    began = time.perf_counter()
    if jobs is not None and jobs < 1:
        raise IngestError(f"--jobs must be at least 1, got {jobs}")
    jobs = jobs or os.cpu_count() or 1
    if not os.path.exists(os.fspath(warehouse)):
        raise WarehouseError(f"no warehouse at {os.fspath(warehouse)}: run `pinoloft ingest` first")
    version = engine_version()
    with WorkerPool(jobs) as pool:
        con = connect(warehouse)
        try:
            con.execute("SET memory_limit = '512MB'")  # the pending pairs spill to disk beyond that
            ensure_schema(con, "raw")
            report = _check(con, pool, version, quiet)
        finally:
            con.close()
    report.jobs = jobs
    report.seconds = time.perf_counter() - began
    return report


def _check(con: duckdb.DuckDBPyConnection, pool: WorkerPool, version: str, quiet: bool | None) -> CheckReport:
    total = con.execute(f"SELECT count(*) FROM ({_PENDING})").fetchall()[0][0]
    report = CheckReport(0, 0, 0.0, pool.workers, version)
    if not total:
        report.total_verdicts = con.execute("SELECT count(*) FROM raw.mutation_verdicts").fetchall()[0][0]
        return report
    # The pending pairs stream from a second connection (a snapshot taken now) while verdicts are committed
    # batch by batch on this one.
    reader = con.cursor()
    bar = progress_bar(total=total, desc="check", unit="pair", quiet=quiet)
    try:
        stream = reader.sql(_PENDING).to_arrow_reader(BATCH)
        for batch in stream:
            columns = batch.to_pydict()
            rows = list(zip(columns["pair_hash"], columns["strategy"], columns["original_sql"],
                            columns["mutated_sql"]))
            chunks = [rows[i:i + CHUNK] for i in range(0, len(rows), CHUNK)]
            results: dict[str, tuple[Any, ...]] = {}
            for chunk_result in pool.run(_judge_chunk, chunks):
                for result in chunk_result:
                    results[result[0]] = result
                bar.update(len(chunk_result))
            judged = [results[pair_hash] for pair_hash in columns["pair_hash"]]
            table = pa.Table.from_arrays(
                [batch.column("pair_hash"), batch.column("strategy"), batch.column("original_sql"),
                 batch.column("mutated_sql")]
                + [pa.array(column, type=field_.type) for column, field_ in
                   zip(list(zip(*judged))[1:], list(_RESULT_SCHEMA)[1:])],
                names=["pair_hash", "strategy", "original_sql", "mutated_sql"] + _RESULT_SCHEMA.names[1:])
            con.register("check_results", table)
            con.execute("INSERT INTO raw.mutation_verdicts BY NAME SELECT *, ?::TIMESTAMP AS checked_at, "
                        "?::VARCHAR AS engine_version FROM check_results", [_now(), version])
            con.unregister("check_results")
            for strategy, (_, conforms, *_rest) in zip(columns["strategy"], judged):
                report.by_strategy[strategy] += 1
                if conforms:
                    report.conforming_by_strategy[strategy] += 1
                    report.conforming += 1
            report.pairs += len(judged)
    finally:
        bar.close()
        reader.close()
    report.total_verdicts = con.execute("SELECT count(*) FROM raw.mutation_verdicts").fetchall()[0][0]
    return report
