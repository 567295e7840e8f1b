"""`synthesize`: engine-derived pairs for strategies that have fewer real pairs than a dataset asks for.

For each dataset with `top_up: true` and each of its strategies with a numeric quota, the real supply is
the number of distinct real pairs (by pair fingerprint) of that strategy in the dataset's DBMSs that the
marts could select: conforming in the dataset's form, with user content (the original SQL in that form)
that fits `max_length` (see `_real_supply`). When it is short, the engine derives pairs from other real
originals of those DBMSs: distinct by original fingerprint, visited in an order fixed by the dataset seed,
skipping originals that already have a real pair of the strategy or offer no mutation point for it. Each
derived pair is checked with the engine in both forms (raw and sqlsim), and kept only if it conforms, fits,
and is new (no real or derived pair has its raw pair fingerprint). The rows go to raw.synthetic_pairs, with
the real report whose original was used; they are marked synthetic everywhere downstream and never counted
as real. Their verdicts go to raw.mutation_verdicts like any other pair's.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from mutations import apply_candidate, candidates, judge
from mutations.errors import SqlSyntaxError
from mutations.fingerprint import pair_hash
from mutations.sqlsim import simplify
from pinoloft_base.console import progress_bar
from pinoloft_base.warehouse import ensure_schema, write_transaction

from .errors import StepOrderError, WarehouseError
from .schema import arrow_schema, columns
from .verdicts import engine_version


@dataclass(slots=True)
class Shortfall:
    dataset: str
    strategy: str
    quota: int
    real: int
    derived: int

    @property
    def missing(self) -> int:
        return max(0, self.quota - self.real - self.derived)


@dataclass(slots=True)
class SynthesizeReport:
    shortfalls: list[Shortfall] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def derived(self) -> int:
        return sum(item.derived for item in self.shortfalls)

    def describe(self) -> str:
        if not self.datasets:
            return "synthesize: no dataset asks for top_up; raw.synthetic_pairs holds no rows"
        lines = [f"synthesize: {self.derived} synthetic pair(s) for {', '.join(self.datasets)} in {self.seconds:.1f}s"]
        for item in self.shortfalls:
            note = f", still {item.missing} short (originals ran out)" if item.missing else ""
            lines.append(f"  {item.dataset}/{item.strategy:<16} quota {item.quota:>6}  real {item.real:>6}  "
                         f"synthetic {item.derived:>6}{note}")
        if not self.shortfalls:
            lines.append("  every quota is met by real pairs")
        return "\n".join(lines)


def _order_key(seed: int, fingerprint: str) -> str:
    return hashlib.sha256(f"{seed}:{fingerprint}".encode()).hexdigest()


def synthesize(warehouse: str | os.PathLike[str], *, quiet: bool | None = None) -> SynthesizeReport:
    """Derive top-up pairs for every dataset with top_up (replacing their rows); see the module doc."""
    began = time.perf_counter()
    if not os.path.exists(os.fspath(warehouse)):
        raise WarehouseError(f"no warehouse at {os.fspath(warehouse)}: run `pinoloft ingest` first")
    with write_transaction(warehouse) as con:
        ensure_schema(con, "raw")
        report = _synthesize(con, quiet)
    report.seconds = time.perf_counter() - began
    return report


def _synthesize(con: Any, quiet: bool | None) -> SynthesizeReport:
    report = SynthesizeReport()
    configs = con.execute("""
        SELECT dataset_name, strategy, dbms, quota, max_length, form, seed, require_conforming
        FROM raw.dataset_configs WHERE top_up ORDER BY dataset_name, strategy""").fetchall()
    # Rows of datasets that no longer ask for a top-up (or no longer exist) go too.
    con.execute("DELETE FROM raw.synthetic_pairs WHERE dataset_name NOT IN "
                "(SELECT dataset_name FROM raw.dataset_configs WHERE top_up)")
    if not configs:
        return report
    unchecked = con.execute("SELECT count(DISTINCT pair_hash) FROM raw.bug_reports WHERE pair_hash NOT IN "
                            "(SELECT pair_hash FROM raw.mutation_verdicts)").fetchall()[0][0]
    if unchecked:
        raise StepOrderError(f"{unchecked} pair(s) of raw.bug_reports have no verdict yet: run "
                             "`pinoloft check` before the top-ups")
    by_dataset: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for row in configs:
        by_dataset[row[0]].append(row)
    version = engine_version()
    now = datetime.now(UTC).replace(tzinfo=None)
    all_rows: list[dict[str, Any]] = []
    verdict_rows: dict[str, dict[str, Any]] = {}
    plans: list[tuple[str, str, list[str], int, str, int, set[str]]] = []
    for dataset, rows in by_dataset.items():
        report.datasets.append(dataset)
        con.execute("DELETE FROM raw.synthetic_pairs WHERE dataset_name = ?", [dataset])
        for _, strategy, dbms, quota, max_length, form, seed, require_conforming in rows:
            if quota is None:
                continue
            eligible, real = _real_supply(con, strategy, dbms, form, max_length, require_conforming)
            if eligible < quota:
                report.shortfalls.append(Shortfall(dataset, strategy, quota, eligible, 0))
                plans.append((dataset, strategy, dbms, seed, form, max_length, real))
    bar = progress_bar(total=sum(item.missing for item in report.shortfalls), desc="synthesize", unit="pair",
                       quiet=quiet)
    sources_cache: dict[tuple[tuple[str, ...], int], list[tuple[str, str, str, str, str]]] = {}
    try:
        for shortfall, (dataset, strategy, dbms, seed, form, max_length, real) in zip(report.shortfalls, plans):
            key = (tuple(dbms), seed)
            if key not in sources_cache:
                sources_cache[key] = _sources(con, dbms, seed)
            used = _originals_with(con, strategy, dbms)
            seen = set(real)
            for original_fp, original, source_hash, source_path, source_dbms in sources_cache[key]:
                if shortfall.missing == 0:
                    break
                if original_fp in used:
                    continue
                derived = _derive(original, original_fp, strategy, seed, form, max_length)
                if derived is None or derived["pair_fingerprint"] in seen:
                    continue
                seen.add(derived["pair_fingerprint"])
                shortfall.derived += 1
                bar.update(1)
                all_rows.append({
                    "dataset_name": dataset, "pair_hash": derived["pair_hash"], "dbms": source_dbms,
                    "strategy": strategy, "is_upper": derived["is_upper"], "original_sql": original,
                    "mutated_sql": derived["mutated"], "original_sqlsim": derived["original_sqlsim"],
                    "mutated_sqlsim": derived["mutated_sqlsim"], "source_pair_hash": source_hash,
                    "source_relative_path": source_path, "created_at": now,
                })
                for verdict in derived["verdicts"]:
                    verdict_rows.setdefault(verdict["pair_hash"], verdict)
    finally:
        bar.close()
    if all_rows:
        table = pa.Table.from_pylist(all_rows, schema=arrow_schema("synthetic_pairs", columns("synthetic_pairs")))
        con.register("synthetic_rows", table)
        con.execute("INSERT INTO raw.synthetic_pairs BY NAME SELECT * FROM synthetic_rows")
        con.unregister("synthetic_rows")
    if verdict_rows:
        for verdict in verdict_rows.values():
            verdict["checked_at"] = now
            verdict["engine_version"] = version
        table = pa.Table.from_pylist(list(verdict_rows.values()),
                                     schema=arrow_schema("mutation_verdicts", columns("mutation_verdicts")))
        con.register("synthetic_verdicts", table)
        con.execute("INSERT INTO raw.mutation_verdicts BY NAME SELECT * FROM synthetic_verdicts WHERE pair_hash "
                    "NOT IN (SELECT pair_hash FROM raw.mutation_verdicts)")
        con.unregister("synthetic_verdicts")
    return report


def _real_supply(con: Any, strategy: str, dbms: list[str], form: str, max_length: int,
                 require_conforming: bool) -> tuple[int, set[str]]:
    """(eligible real pairs, every real raw pair fingerprint) of `strategy` in these DBMSs.

    As the marts count them: a pair is a report of bugs/ (not vanished), deduplicated by the fingerprint of
    its raw form; its user content is its sqlsim copy's original when the form is sqlsim and the copy
    exists, else its raw original; it is eligible when that content fits `max_length` and (if required)
    the verdict of that form conforms. A derived pair must not share a raw fingerprint with any real pair,
    eligible or not: the marts would fold it into that pair.
    """
    rows = con.execute("""
        WITH reports AS (
            SELECT source_root, run, dbms, task, bug_id, sql_id, mutation_name, pair_hash, original_sql
            FROM raw.bug_reports
            WHERE folder = 'bugs' AND NOT is_vanished AND mutation_name = ? AND list_contains(?, dbms)
        ), sims AS (
            SELECT source_root, run, dbms, task, bug_id, sql_id, mutation_name, pair_hash AS sim_hash,
                   original_sql AS sim_original
            FROM raw.bug_reports WHERE folder = 'sqlsim' AND NOT is_vanished AND mutation_name = ?
        )
        SELECT v.pair_fingerprint,
               bool_or(CASE WHEN ? = 'sqlsim' AND s.sim_hash IS NOT NULL
                            THEN length(s.sim_original) <= ? AND (vs.conforms OR NOT ?)
                            ELSE length(r.original_sql) <= ? AND (v.conforms OR NOT ?) END) AS eligible
        FROM reports r JOIN raw.mutation_verdicts v ON v.pair_hash = r.pair_hash
        LEFT JOIN sims s USING (source_root, run, dbms, task, bug_id, sql_id, mutation_name)
        LEFT JOIN raw.mutation_verdicts vs ON vs.pair_hash = s.sim_hash
        WHERE v.pair_fingerprint IS NOT NULL
        GROUP BY v.pair_fingerprint""",
                       [strategy, dbms, strategy, form, max_length, require_conforming, max_length,
                        require_conforming]).fetchall()
    return sum(1 for _, eligible in rows if eligible), {fingerprint for fingerprint, _ in rows}


def _originals_with(con: Any, strategy: str, dbms: list[str]) -> set[str]:
    """Original fingerprints that already have a real pair of `strategy` (any form) in these DBMSs."""
    rows = con.execute("""
        SELECT DISTINCT v.original_fingerprint FROM raw.bug_reports b JOIN raw.mutation_verdicts v USING (pair_hash)
        WHERE b.mutation_name = ? AND list_contains(?, b.dbms) AND v.original_fingerprint IS NOT NULL""",
                       [strategy, dbms]).fetchall()
    return {row[0] for row in rows}


def _sources(con: Any, dbms: list[str], seed: int) -> list[tuple[str, str, str, str, str]]:
    """One real raw-form original per original fingerprint (the report with the smallest pair_hash), in the
    order the seed fixes: (fingerprint, original SQL, source pair_hash, source relative_path, dbms)."""
    rows = con.execute("""
        SELECT v.original_fingerprint,
               arg_min({'sql': b.original_sql, 'hash': b.pair_hash, 'path': b.relative_path, 'dbms': b.dbms},
                       b.pair_hash || chr(31) || b.relative_path)
        FROM raw.bug_reports b JOIN raw.mutation_verdicts v USING (pair_hash)
        WHERE b.folder = 'bugs' AND NOT b.is_vanished AND list_contains(?, b.dbms)
          AND v.original_fingerprint IS NOT NULL
        GROUP BY v.original_fingerprint""", [dbms]).fetchall()
    out = [(fingerprint, source["sql"], source["hash"], source["path"], source["dbms"])
           for fingerprint, source in rows]
    out.sort(key=lambda item: _order_key(seed, item[0]))
    return out


def _verdict_row(strategy: str, original: str, mutated: str, judgement: Any) -> dict[str, Any]:
    return {"pair_hash": pair_hash(strategy, original, mutated), "strategy": strategy, "original_sql": original,
            "mutated_sql": mutated, "conforms": judgement.verdict.conforms, "is_upper": judgement.verdict.is_upper,
            "reason": judgement.verdict.reason, "original_fingerprint": judgement.original_fingerprint,
            "pair_fingerprint": judgement.pair_fingerprint}


def _derive(original: str, original_fp: str, strategy: str, seed: int, form: str, max_length: int
            ) -> dict[str, Any] | None:
    """One engine-made pair of `strategy` from `original` that conforms in both forms and fits, or None."""
    try:
        points = candidates(original, strategy)
    except SqlSyntaxError:
        return None
    if not points:
        return None
    point = random.Random(f"{seed}:{original_fp}:{strategy}").choice(points)
    mutation = apply_candidate(original, point, seed)
    try:
        original_sqlsim, mutated_sqlsim = simplify(original, mutation.sql)
    except SqlSyntaxError:
        return None
    if len(original_sqlsim if form == "sqlsim" else original) > max_length:
        return None
    raw = judge(original, mutation.sql, strategy)
    sim = judge(original_sqlsim, mutated_sqlsim, strategy)
    if not (raw.verdict.conforms and sim.verdict.conforms and raw.verdict.is_upper == mutation.is_upper):
        return None
    return {
        "pair_hash": pair_hash(strategy, original, mutation.sql), "mutated": mutation.sql,
        "is_upper": mutation.is_upper, "original_sqlsim": original_sqlsim, "mutated_sqlsim": mutated_sqlsim,
        "pair_fingerprint": raw.pair_fingerprint,
        "verdicts": [_verdict_row(strategy, original, mutation.sql, raw),
                     _verdict_row(strategy, original_sqlsim, mutated_sqlsim, sim)],
    }
