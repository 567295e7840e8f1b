"""Helpers for the dbt tests: a raw schema per docs/warehouse.md, rows built like ingest writes them, and
a real `dbt build` of dbt_project/ into a DuckDB file under tmp_path (subprocess, no network)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from mutations.fingerprint import fingerprint, pair_fingerprint, pair_hash

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "dbt_project"
RAW_DDL = Path(__file__).with_name("raw_schema.sql")
SOURCE_ROOT = "/data/pinolo"


def create_raw_schema(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute(RAW_DDL.read_text())


def dbt(command: str, warehouse: Path, work: Path, *args: str) -> subprocess.CompletedProcess:
    """Run `dbt <command>` (e.g. "build", "docs generate") on dbt_project/ against `warehouse`; target and
    logs go under `work`."""
    env = dict(
        os.environ,
        PINOLOFT_WAREHOUSE=str(warehouse),
        DBT_SEND_ANONYMOUS_USAGE_STATS="False",
        DBT_NO_VERSION_CHECK="True",
    )
    executable = Path(sys.executable).with_name("dbt")
    return subprocess.run(
        [str(executable), *command.split(), "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT),
         "--target-path", str(work / "target"), "--log-path", str(work / "logs"), *args],
        env=env, capture_output=True, text=True, cwd=work, check=False,
    )


def dbt_build(warehouse: Path, work: Path) -> subprocess.CompletedProcess:
    done = dbt("build", warehouse, work)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    return done


def query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def draw(seed: int, text: str) -> float:
    """The selection's hash into [0, 1): the first 52 bits of md5('<seed>:<text>')."""
    return int(hashlib.md5(f"{seed}:{text}".encode()).hexdigest()[:13], 16) / 2**52


def expected_split(seed: int, original_fingerprint: str, ratios: tuple[float, float, float]) -> str:
    train, validation, test = ratios
    total = train + validation + test
    u = draw(seed, original_fingerprint)
    if u < train / total:
        return "train"
    if u < (train + validation) / total:
        return "validation"
    return "test"


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


# Pair texts of the fixtures: a PINOLO-shaped original over column `col`, its sqlsim form, and two mutations.
def q(col: str, lit: object) -> str:
    return f"SELECT `{col}` AS `f1` FROM `t1` WHERE (`{col}`)>({lit})"


def sim(col: str, lit: object) -> str:
    return f"SELECT `{col}` FROM `t1` WHERE `{col}`>{lit}"


def distinct(sql: str) -> str:
    return sql.replace("SELECT ", "SELECT DISTINCT ", 1)


def cmp_u(sql: str) -> str:
    return sql.replace(")>(", ")>=(")


@dataclass
class Report:
    """One PINOLO bug (bugs/) and its copies in maystable/ or unstable/ and sqlsim/."""

    run: str
    dbms: str
    task_id: int
    bug_id: int
    sql_id: int
    strategy: str
    original: str
    mutated: str
    is_upper: bool = False
    stability: str | None = None  # 'maystable', 'unstable' or None (ckstable did not run)
    sqlsim: tuple[str, str] | None = None  # only with maystable
    vanished: bool = False

    @property
    def stem(self) -> str:
        return f"bug-{self.bug_id}-{self.sql_id}-{self.strategy}"

    def path(self, folder: str = "bugs") -> str:
        return f"{self.run}/{self.dbms}/task-{self.task_id}/{folder}/{self.stem}.json"

    @property
    def pair_hash(self) -> str:
        return pair_hash(self.strategy, self.original, self.mutated)

    @property
    def pair_id(self) -> str:
        return pair_fingerprint(self.strategy, self.original, self.mutated)

    @property
    def sqlsim_pair_hash(self) -> str | None:
        return pair_hash(self.strategy, *self.sqlsim) if self.sqlsim else None


@dataclass
class Synthetic:
    dataset: str
    dbms: str
    strategy: str
    original: str
    mutated: str
    sqlsim: tuple[str, str] | None
    source: Report
    is_upper: bool = False
    checked: bool = False  # has a verdict; without one its pair_id falls back to the pair_hash

    @property
    def pair_hash(self) -> str:
        return pair_hash(self.strategy, self.original, self.mutated)

    @property
    def pair_id(self) -> str:
        if self.checked:
            return pair_fingerprint(self.strategy, self.original, self.mutated)
        return self.pair_hash


@dataclass
class Raw:
    """Rows to insert into the raw schema."""

    reports: list[Report] = field(default_factory=list)
    verdicts: dict[str, tuple] = field(default_factory=dict)  # pair_hash -> row
    synthetic: list[Synthetic] = field(default_factory=list)
    configs: list[tuple] = field(default_factory=list)
    validations: list[dict] = field(default_factory=list)  # rows of raw.validation_runs, see validation()
    invocations: list[dict] = field(default_factory=list)  # rows of raw.validation_invocations

    def verdict(self, strategy: str, original: str, mutated: str, conforms: bool, reason: str = "ok") -> None:
        key = pair_hash(strategy, original, mutated)
        self.verdicts[key] = (
            key, strategy, original, mutated, conforms, (not strategy.endswith("U")) if conforms else None,
            reason, fingerprint(original), pair_fingerprint(strategy, original, mutated),
        )

    def add(self, report: Report, conforms: bool = True, reason: str = "ok",
            sqlsim_conforms: bool | None = None) -> Report:
        self.reports.append(report)
        self.verdict(report.strategy, report.original, report.mutated, conforms, reason)
        if report.sqlsim:
            self.verdict(report.strategy, *report.sqlsim,
                         conforms if sqlsim_conforms is None else sqlsim_conforms, reason)
        return report

    def write(self, warehouse: Path) -> None:
        with duckdb.connect(str(warehouse)) as con:
            for r in self.reports:
                copies = [("bugs", r.original, r.mutated)]
                if r.stability:
                    copies.append((r.stability, r.original, r.mutated))
                if r.sqlsim:
                    copies.append(("sqlsim", *r.sqlsim))
                for folder, original, mutated in copies:
                    con.execute(
                        "insert into raw.bug_reports (source_root, run, dbms, task, task_id, relative_path,"
                        " file_hash, ingested_at, ingest_run_id, folder, bug_id, sql_id, mutation_name, is_upper,"
                        " report_time, original_sql, mutated_sql, pair_hash, log_relative_path, is_vanished)"
                        " values (?, ?, ?, ?, ?, ?, ?, timestamp '2026-11-24 10:00:00', 1, ?, ?, ?, ?, ?, ?, ?, ?,"
                        " ?, ?, ?)",
                        [SOURCE_ROOT, r.run, r.dbms, f"task-{r.task_id}", r.task_id, r.path(folder),
                         md5_hex(r.path(folder)), folder, r.bug_id, r.sql_id, r.strategy, r.is_upper,
                         "2022-12-04 22:05:25.145092291 +0800 CST m=+0.524526126", original, mutated,
                         pair_hash(r.strategy, original, mutated), r.path(folder).replace(".json", ".log"),
                         r.vanished],
                    )
            for row in self.verdicts.values():
                con.execute(
                    "insert into raw.mutation_verdicts values (?, ?, ?, ?, ?, ?, ?, ?, ?,"
                    " timestamp '2026-11-24 10:01:00', 'test')", list(row),
                )
            for s in self.synthetic:
                con.execute(
                    "insert into raw.synthetic_pairs values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                    " timestamp '2026-11-24 10:02:00')",
                    [s.pair_hash, s.dataset, s.dbms, s.strategy, s.is_upper, s.original, s.mutated,
                     s.sqlsim[0] if s.sqlsim else None, s.sqlsim[1] if s.sqlsim else None,
                     s.source.pair_hash, s.source.path()],
                )
            for row in self.configs:
                con.execute(
                    "insert into raw.dataset_configs values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                    " timestamp '2026-11-24 10:03:00')", list(row),
                )
            for table, rows in (("validation_runs", self.validations),
                                ("validation_invocations", self.invocations)):
                for row in rows:
                    con.execute(f"insert into raw.{table} ({', '.join(row)}) values ({', '.join('?' * len(row))})",
                                list(row.values()))


def config(dataset: str, strategy: str, dbms: list[str] | None, quota: int | None, *, seed: int,
           max_length: int | None = None, form: str = "sqlsim", ratios=(0.5, 0.25, 0.25), top_up: bool = False,
           require_conforming: bool = True, require_executable: bool = False,
           target: str | None = None) -> tuple:
    return (dataset, strategy, dbms, quota, max_length, form, *ratios, seed, top_up, require_conforming,
            require_executable, target, f"hash-{dataset}")


def validation(pair_hash_: str, form: str, target: str, run_id: int, repeat: int, *,
               original_status: str = "ok", mutated_status: str = "ok", original_digest: str = "d1",
               mutated_digest: str = "d2", oracle: str | None = "holds", error_code: int | None = None,
               original_error: str | None = None, mutated_error: str | None = None,
               original_error_class: str | None = None, mutated_error_class: str | None = None,
               strategy: str | None = None, is_upper: bool | None = None,
               data_sql_hash: str | None = "data-sql-hash") -> dict:
    """One raw.validation_runs row as validation/ writes it (a failed side has no digest and no oracle)."""
    def side(status: str, digest: str, error: str | None, error_class: str | None, default_error: str) -> dict:
        ok = status == "ok"
        return {
            "status": status,
            "error_code": None if ok else error_code,
            "error": None if ok else (error if error is not None else default_error),
            "row_count": 3 if ok else None,
            "digest": digest if ok else None,
            "duration_ms": 1.0,
            "column_count": 1 if ok else None,
            "error_class": None if ok else error_class,
        }

    original = side(original_status, original_digest, original_error, original_error_class, "error")
    mutated = side(mutated_status, mutated_digest, mutated_error, mutated_error_class,
                   "You have an error in your SQL syntax")
    row = {"pair_hash": pair_hash_, "form": form, "target": target, "server_version": "MariaDB 11.4",
           "validation_run_id": run_id, "repeat_index": repeat}
    for prefix, values in (("original", original), ("mutated", mutated)):
        row.update({f"{prefix}_{k}": values[k] for k in ("status", "error_code", "error", "row_count", "digest",
                                                          "duration_ms")})
    row.update({
        "oracle": oracle if original_status == mutated_status == "ok" else None,
        "executed_at": f"2026-11-24 10:04:{run_id:02d}",
        "strategy": strategy,
        "is_upper": is_upper,
        "database_name": f"pinolo_{(data_sql_hash or '')[:16]}",
        "data_sql_hash": data_sql_hash,
        "original_column_count": original["column_count"],
        "mutated_column_count": mutated["column_count"],
        "original_error_class": original["error_class"],
        "mutated_error_class": mutated["error_class"],
        "settings_hash": "settings-hash",
    })
    return row


GOLDEN = Path(__file__).with_name("golden")
SELECTION_MARTS = ("dataset_candidates", "dataset_coverage")


def mart_snapshot(warehouse: Path, marts: tuple[str, ...] = SELECTION_MARTS) -> dict:
    """Every row of each mart (in `order by all` order) with its columns' names and types: what a golden file
    under golden/ holds, as JSON (lists for rows)."""
    snapshot = {}
    for mart in marts:
        columns = query(warehouse, "select column_name, data_type from duckdb_columns()"
                                   " where schema_name = 'marts' and table_name = ? order by column_index", [mart])
        rows = query(warehouse, f"select * from marts.{mart} order by all")
        snapshot[mart] = {"columns": [f"{name} {kind}" for name, kind in columns], "rows": [list(r) for r in rows]}
    return snapshot


def write_golden(path: Path, snapshot: dict) -> None:
    """Write a snapshot one row per line (readable diffs). Only to record a deliberate change of the selection:
    `write_golden(GOLDEN / "<fixture>.json", mart_snapshot(<that fixture's warehouse>))`."""
    lines = ["{"]
    for i, (mart, part) in enumerate(snapshot.items()):
        lines.append(f"  {json.dumps(mart)}: {{")
        lines.append(f'    "columns": {json.dumps(part["columns"])},')
        lines.append('    "rows": [')
        lines += [f"      {json.dumps(row)}{',' if j < len(part['rows']) - 1 else ''}"
                  for j, row in enumerate(part["rows"])]
        lines.append("    ]")
        lines.append("  }" + ("," if i < len(snapshot) - 1 else ""))
    lines.append("}")
    path.write_text("\n".join(lines) + "\n")


def read_golden(name: str) -> dict:
    return json.loads((GOLDEN / f"{name}.json").read_text())
