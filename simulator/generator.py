"""Writes PINOLO task-pool output trees (reference §7) for testing and benchmarking later stages.

A tree looks like what PINOLO plus its `ckstable` and `sqlsim` tools leave behind, byte for byte in format:

    <root>/<dbms>/                       (runs == 1; root is PINOLO's outputPath)
    <root>/output<N>/<dbms>/             (runs > 1, like QTRAN's "Pinolo Output/output1..4")
        taskpool.log  result.json  task-<id>-config.json
        task-<id>/task.log  output.data.sql  result.json
                  bugs/ maystable/ unstable/ sqlsim/   bug-<b>-<s>-<name>.json|.log

The pairs are real: every query comes from `QueryGenerator`, every mutated SQL from the mutation engine for
one of that query's candidates, with the engine's `isUpper`; every sqlsim twin from `mutations.sqlsim`. Only
the DBMS is imaginary: the results in the `.log` files are drawn to be plausible and to violate PINOLO's
oracle (§6) the way a real bug does, because a bug file only exists when the oracle fired.

Determinism: everything derives from the seed (pool seed → task seed = pool seed + task id, §7.2), times
included, so the same arguments give byte-identical trees whatever the number of worker processes.

Faults (`faults=SHARE`): about that share of report files get realistic damage, every kind at least once,
and `<root>/pinoloft-faults.json` lists each fault with what a correct reader should conclude. That
manifest sits outside every pool directory and is not PINOLO output: **ingest must skip it** (it is the
answer key for ingest's tests, not data).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import re
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from mutations import apply_candidate
from mutations import candidates as engine_candidates
from mutations.errors import SqlSyntaxError
from mutations.formats import (
    KNOWN_DBMS,
    MANIFEST_NAME,
    OUTPUT_DATA_SQL,
    BugLog,
    BugReport,
    GoTime,
    PoolResult,
    QueryResult,
    TaskConfig,
    TaskResult,
    bug_json,
    format_bug_log,
    go_duration,
    logrus_line,
    parse_bug_json,
    parse_bug_log,
    pool_result_json,
    task_config_json,
    task_result_json,
)
from mutations.oracle import check_rows
from mutations.sqlsim import simplify
from mutations.strategies import STRATEGIES
from pinoloft_base.console import progress_bar
from pinoloft_base.errors import PinoloftError

from .querygen import Column, QueryGenerator

__all__ = [
    "GenerateError",
    "GenerateSummary",
    "DEFAULT_MIX",
    "FAULT_KINDS",
    "KNOWN_DBMS",
    "LEAKED_PASSWORD",
    "MANIFEST_NAME",
    "generate",
    "parse_mix",
]

# QTRAN's per-run MySQL bug counts (§0 item 1), used as relative weights; the other 9 strategies are absent.
DEFAULT_MIX: dict[str, float] = {
    "FixMDistinctL": 26000,
    "FixMHaving1U": 15000,
    "FixMCmpOpU": 900,
    "FixMOn1U": 450,
    "FixMInNullU": 8,
    "FixMWhere1U": 5,
    "FixMCmpOpL": 5,
    "FixMWhere0L": 1,
    "FixMHaving0L": 1,
}

FAULT_KINDS: tuple[str, ...] = (
    "truncated_json",
    "empty_json",
    "invalid_utf8",
    "unknown_mutation",
    "json_without_log",
    "orphan_sqlsim",
    "duplicate_across_tasks",
    "duplicate_across_runs",
    "killed_task",
    "non_select_drop",
    "non_select_multi",
    "config_password",
)

# Where PINOLO ran: configs and logs carry absolute paths of that machine, not of the fixture's location,
# so trees are byte-identical wherever they are generated.
PINOLO_HOME = "/home/pinolo/impomysql"
PORTS = {"mysql": 13306, "mariadb": 23306, "tidb": 4000, "oceanbase": 2881}
THREADS = 4  # the pool's threadNum: dbname is TEST<thread>, tasks run four at a time
QUERY_NOMINAL_NS = 150_000_000  # upper bound of one query's stage 1 + stage 2 time
FOREIGN_NAMES = ("RdMBetweenU", "RdMInU", "FixMCmpU", "FixMCmpSubL", "RdMInL")  # PINOLO's discarded mutators
LEAKED_PASSWORD = "Pinolo@2023!db"
_DBMS_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class GenerateError(PinoloftError):
    """Bad arguments for `generate`, or a tree that cannot be written as asked (a usage error: exit 2)."""


@dataclass(frozen=True, slots=True)
class GenerateSummary:
    """What `generate` wrote. `bugs` counts bugs/ entries per strategy (all 18 keys present)."""

    root: str
    runs: int
    dbms: tuple[str, ...]
    tasks: int
    queries: int
    skipped_queries: int
    bugs: dict[str, int]
    report_files: int
    faults: dict[str, int]
    seconds: float
    engine_errors: tuple[str, ...] = ()

    @property
    def total_bugs(self) -> int:
        return sum(self.bugs.values())

    def describe(self) -> str:
        """A short human summary for the CLI."""
        top = ", ".join(f"{name}={count}" for name, count in sorted(self.bugs.items(), key=lambda kv: -kv[1]) if count)
        rate = self.report_files / self.seconds if self.seconds > 0 else 0.0
        text = (
            f"generated {self.tasks} tasks ({len(self.dbms)} dbms x {self.runs} runs), {self.queries} queries "
            f"({self.skipped_queries} skipped: engine parse errors), {self.total_bugs} bugs [{top}], "
            f"{self.report_files} report files in {self.seconds:.1f}s ({rate:.0f} files/s) under {self.root}"
        )
        if self.faults:
            text += "; faults: " + ", ".join(f"{k}={v}" for k, v in sorted(self.faults.items()))
        return text


# ---------------------------------------------------------------------------------------------------------
# Arguments.


def parse_mix(text: str | dict[str, float] | None) -> dict[str, float]:
    """`Name=W,Name=W` (or `all` for a uniform mix over the 18) into weights; GenerateError if malformed."""
    if text is None:
        return dict(DEFAULT_MIX)
    items: list[tuple[str, float]] = []
    if isinstance(text, dict):
        items = [(str(k), float(v)) for k, v in text.items()]
    else:
        spec = text.strip()
        if spec.lower() in ("all", "uniform"):
            return {name: 1.0 for name in STRATEGIES}
        if spec.lower() == "default":
            return dict(DEFAULT_MIX)
        for part in filter(None, (p.strip() for p in spec.split(","))):
            label, sep, number = part.partition("=")
            if not sep:
                raise GenerateError(f"--mix item {part!r} is not NAME=WEIGHT")
            try:
                items.append((label.strip(), float(number)))
            except ValueError:
                raise GenerateError(f"--mix weight of {label.strip()!r} is not a number: {number!r}") from None
    mix: dict[str, float] = {}
    for name, weight in items:
        if name not in STRATEGIES:
            raise GenerateError(f"--mix names unknown strategy {name!r}; expected one of: {', '.join(STRATEGIES)}")
        if not weight >= 0 or weight == float("inf"):
            raise GenerateError(f"--mix weight of {name} must be a finite number >= 0, got {weight}")
        mix[name] = float(weight)
    if not any(w > 0 for w in mix.values()):
        raise GenerateError("--mix gives no strategy a positive weight")
    return mix


# ---------------------------------------------------------------------------------------------------------
# Per-task generation (runs in worker processes; pure function of its spec).


@dataclass(frozen=True, slots=True)
class _TaskSpec:
    pool_dir: str
    rel_pool: str
    run: int
    dbms: str
    task_id: int
    task_seed: int
    queries: int
    mix: tuple[tuple[str, float], ...]
    unstable_share: float
    all_strategies: bool
    start_ns: int
    mono_ns: int
    thread: int
    password: str
    killed: bool


@dataclass(slots=True)
class _BugRef:
    bug_id: int
    sql_id: int
    name: str
    stable: bool | None  # None: never went through ckstable (killed task)
    complete: bool = True

    @property
    def file_stem(self) -> str:
        return f"bug-{self.bug_id}-{self.sql_id}-{self.name}"


@dataclass(slots=True)
class _TaskOutcome:
    run: int
    dbms: str
    task_id: int
    rel_pool: str
    start_ns: int
    end_ns: int
    finished: bool
    queries: int
    skipped: int
    bugs: list[_BugRef]
    events: list[tuple[int, str]]
    report_files: int
    engine_errors: list[str] = field(default_factory=list)


def _write(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


_INT_VALUES = ("0", "1", "-1", "2", "-2", "19755", "-13064", "6949", "11130", "122", "47", "53", "107", "79")
_REAL_VALUES = ("12.991", "-9.183", "1.009", "0.0001", "-0.0001", "2", "-2", "1", "0", "-0", "79.1819",
                "1.4142135623730951", "0.8414709848078965", "2.302585092994046", "-1.5574077246549023", "3.141593")
_DECIMAL_VALUES = ("12.991", "1.009", "71.0510", "-9.183", "0.0001", "2", "0", "94.1106", "45.0855", "-13064")
_STR_VALUES = ("e", "well", "0", "-0", "1", "-1", "3\t", "\t3", "w", "if", "know", "b", "k", "p", "m", "")
_RARE_STR_VALUES = ("3\n", "\n3")


def _cell(rng: random.Random, kind: str) -> str:
    """A plausible text-protocol value for a column of that kind (NULL sometimes)."""
    if kind == "null" or rng.random() < 0.1:
        return "NULL"
    if kind == "int":
        r = rng.random()
        if r < 0.7:
            return rng.choice(_INT_VALUES)
        return str(rng.randint(-(2**31), 2**31)) if r < 0.9 else str(rng.getrandbits(64))
    if kind == "real":
        if rng.random() < 0.7:
            return rng.choice(_REAL_VALUES)
        return repr(round(rng.uniform(-100, 100), rng.choice((3, 4, 13))))
    if kind == "decimal":
        whole, _, frac = rng.choice(_DECIMAL_VALUES).partition(".")
        return f"{whole}.{frac.ljust(20, '0')}"  # decimal(40, 20) prints all 20 places
    if kind in ("str", "bin"):
        return rng.choice(_RARE_STR_VALUES) if rng.random() < 0.02 else rng.choice(_STR_VALUES)
    if kind == "date":
        return f"{2000 + rng.randrange(20)}-{1 + rng.randrange(12):02d}-{1 + rng.randrange(28):02d}"
    if kind == "datetime":
        return (f"{2000 + rng.randrange(20)}-{1 + rng.randrange(12):02d}-{1 + rng.randrange(28):02d} "
                f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}")
    if kind == "time":
        return f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
    return rng.choice(_STR_VALUES)


_ROW_COUNTS = (1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 5, 6, 7, 7, 9, 10, 14, 21, 49)


Rows = list[list[str]]


def _bug_results(rng: random.Random, columns: Sequence[Column], is_upper: bool) -> tuple[Rows, Rows]:
    """Original and mutated rows that violate the oracle for `is_upper`, shaped like typical PINOLO bugs.

    Mostly "same row count, different values" (cmp 2, the typical case per §6); otherwise containment in
    the forbidden direction, sometimes with one side empty.
    """
    kinds = [c.kind for c in columns]

    def row() -> list[str]:
        return [_cell(rng, k) for k in kinds]

    for _ in range(100):
        n = rng.choice(_ROW_COUNTS)
        original = [row() for _ in range(n)]
        shape = rng.random()
        if shape < 0.65:
            mutated = [list(r) for r in original]
            for _ in range(rng.choice((1, 1, 1, 2, 3))):
                r = rng.randrange(n)
                c = rng.randrange(len(kinds))
                mutated[r][c] = _cell(rng, kinds[c])
        elif shape < 0.88:
            if is_upper:  # expected original ⊆ mutated: drop rows instead
                keep = rng.randrange(n)
                mutated = [list(r) for r in rng.sample(original, keep)]
            else:  # expected mutated ⊆ original: add rows instead
                mutated = [list(r) for r in original] + [row() for _ in range(rng.choice((1, 1, 2, 3)))]
                rng.shuffle(mutated)
        elif is_upper:
            mutated = []
        else:
            original, mutated = [], original
        if not check_rows(original, mutated, is_upper):
            return original, mutated
    raise AssertionError("could not draw an oracle-violating result pair")  # pragma: no cover - 100 tries


def _result(rng: random.Random, columns: Sequence[Column], rows: list[list[str]]) -> QueryResult:
    cols = tuple((c.name, c.type_name) for c in columns) if rows else ()
    ns = int(rng.lognormvariate(13.8, 1.0))  # ~1ms median, long tail
    return QueryResult(cols, tuple(tuple(r) for r in rows), go_duration(max(ns, 1_000)))


def _pick_bugs(rng: random.Random, cands: Sequence[Any], mix: dict[str, float], present: Counter[str], seen: int,
               achieved: Counter[str]) -> list[Any]:
    """Choose which candidates of one query become bugs, so that bug counts follow the strategy mix.

    Each attempt draws a strategy from the whole mix, weighted by mix weight over how often the strategy
    has been available so far in this task; the attempt yields a bug only if this query has an unused
    candidate of it. Dividing by availability lets strategies with rare mutation points (ON needs a join,
    HAVING a HAVING) still reach their share; drawing from the whole mix (not only from what this query
    offers) keeps rare strategies rare when a query's common candidates run out. A feedback factor
    (expected over achieved count so far in the task, clamped) corrects what availability alone misses,
    e.g. HAVING offering one candidate per SELECT where DISTINCT offers several.
    """
    names = [n for n, w in sorted(mix.items()) if w > 0]
    mix_total = sum(mix[n] for n in names)
    done = sum(achieved.values())
    weights = [
        mix[n] * (seen + 1) / (present[n] + 1)
        * min(16.0, max(0.05, ((mix[n] / mix_total * done + 1) / (achieved[n] + 1)) ** 3))
        for n in names
    ]
    total = sum(weights)
    by_strategy: dict[str, list[Any]] = {}
    for cand in cands:
        if cand.strategy in mix:
            by_strategy.setdefault(cand.strategy, []).append(cand)
    offered = sum(w for n, w in zip(names, weights) if n in by_strategy)
    if offered <= 0:
        return []
    # Expected bugs per query ~1.75 (0-5); scale the attempts by the share of the mix the task offers.
    wanted = rng.choices((0, 1, 2, 3, 4, 5), weights=(25, 25, 20, 15, 10, 5))[0]
    yield_rate = sum(mix[n] * present[n] / max(seen, 1) for n in names) / total or offered / total
    attempts = min(40, int(wanted / max(yield_rate, 0.025) + rng.random()))
    chosen: list[Any] = []
    for name in rng.choices(names, weights=weights, k=attempts) if attempts else ():
        pool = by_strategy.get(name)
        if pool:
            chosen.append(pool.pop(rng.randrange(len(pool))))
    # PINOLO iterates mutation names in Go map order (random), candidates in discovery order (§1).
    order = list(dict.fromkeys(c.strategy for c in chosen))
    rng.shuffle(order)
    rank = {name: i for i, name in enumerate(order)}
    position = {id(c): i for i, c in enumerate(cands)}
    chosen.sort(key=lambda c: (rank[c.strategy], position[id(c)]))
    return chosen


def _rate_points(total: int) -> set[int]:
    """Query counts at which `[Rate]i/total` is logged: first ⌊total/20⌋+1, then every ⌊total/20⌋+2 (§7.1)."""
    step = total // 20
    points = set()
    v = step + 1
    while v <= total:
        points.add(v)
        v += step + 2
    return points


def _run_task(spec: _TaskSpec) -> _TaskOutcome:
    """Generate one task directory (and its config) completely; return what the pool level needs."""
    rng = random.Random(f"pinoloft-task:{spec.task_seed}")
    qgen = QueryGenerator(spec.task_seed, spec.all_strategies)
    mix = dict(spec.mix)
    output_path = f"{PINOLO_HOME}/output"
    task_path = f"{output_path}/{spec.dbms}/task-{spec.task_id}"
    pool_dir = spec.pool_dir
    task_dir = os.path.join(pool_dir, f"task-{spec.task_id}")
    os.makedirs(task_dir)

    config = TaskConfig(
        output_path=output_path, dbms=spec.dbms, task_id=spec.task_id, host="127.0.0.1",
        port=PORTS.get(spec.dbms, 3306), username="root", password=spec.password, dbname=f"TEST{spec.thread}",
        seed=spec.task_seed, ddl_path=f"{task_path}/output.data.sql", dml_path=f"{task_path}/output.rand.sql",
        rd_gen_path=f"{PINOLO_HOME}/resources/go-randgen", zz_path=f"{PINOLO_HOME}/resources/impo.zz.lua",
        yy_path=f"{PINOLO_HOME}/resources/impo.yy", queries_num=spec.queries, need_dml=False,
    )
    _write(os.path.join(pool_dir, f"task-{spec.task_id}-config.json"), task_config_json(config).encode())
    _write(os.path.join(task_dir, "output.data.sql"), OUTPUT_DATA_SQL)

    base = GoTime(spec.start_ns, mono_ns=spec.mono_ns)
    now = 0  # ns since task start

    def at(offset: int) -> GoTime:
        return base.plus(offset)

    log: list[str] = []
    events: list[tuple[int, str]] = []

    def info(msg: str, offset: int) -> None:
        log.append(logrus_line(at(offset), "info", msg))

    info("use public connector", now)
    now += rng.randrange(200_000, 900_000)
    info(f" randgan cmd: cd {task_path} && {config.rd_gen_path} gentest  -Z {config.zz_path} -Y {config.yy_path} "
         f"-Q {spec.queries} --seed {spec.task_seed} -B ", now)
    now += rng.randrange(80_000_000, 400_000_000)
    info("init ddl", now)
    now += rng.randrange(60_000_000, 250_000_000)
    info("init dml", now)
    now += rng.randrange(1_000_000, 5_000_000)
    end_init = now
    info("Running " + "*" * 50, now)

    bugs_dir = os.path.join(task_dir, "bugs")
    dirs_made = False
    bug_refs: list[_BugRef] = []
    files = 0
    counts = Counter[str]()
    present = Counter[str]()
    stage1_err = stage1_exec_err = stage2_units = stage2_unit_exec_err = 0
    skipped = 0
    engine_errors: list[str] = []
    rate_points = _rate_points(spec.queries)
    kill_query = int(spec.queries * rng.uniform(0.35, 0.8)) if spec.killed else -1
    killed_now = False

    for sql_id in range(spec.queries):
        if sql_id in rate_points:
            info(f"[Rate]{sql_id}/{spec.queries}", now)
        query = qgen.generate()
        q_ns = int(QUERY_NOMINAL_NS * rng.uniform(0.2, 1.0))
        try:
            cands = engine_candidates(query.sql)
        except SqlSyntaxError as exc:
            skipped += 1
            stage1_err += 1
            if len(engine_errors) < 20:
                engine_errors.append(f"{exc}\n{query.sql}")
            now += q_ns // 10
            continue
        if rng.random() < 0.03:  # the DBMS rejected the original (stage1ExecErrNum)
            stage1_exec_err += 1
            now += q_ns // 5
            continue
        stage2_units += len(cands)
        present.update({c.strategy for c in cands})
        chosen = _pick_bugs(rng, cands, mix, present, sql_id + 1, counts)
        stage2_unit_exec_err += sum(1 for _ in cands if rng.random() < 0.004)
        for k, cand in enumerate(chosen):
            saved_at = now + q_ns * (k + 1) // (len(chosen) + 1)
            mutation = apply_candidate(query.sql, cand, spec.task_seed + sql_id)
            bug_id = len(bug_refs)
            report = BugReport(at(saved_at).string(), bug_id, sql_id, cand.strategy, mutation.is_upper,
                               query.sql, mutation.sql)
            original_rows, mutated_rows = _bug_results(rng, query.columns, mutation.is_upper)
            log_text = format_bug_log(BugLog(
                cand.strategy, mutation.is_upper, _result(rng, query.columns, original_rows),
                _result(rng, query.columns, mutated_rows), query.sql, mutation.sql,
            ))
            if not dirs_made:
                os.mkdir(bugs_dir)
                if not spec.killed:
                    for sub in ("maystable", "unstable", "sqlsim"):
                        os.mkdir(os.path.join(task_dir, sub))
                dirs_made = True
            stem = f"bug-{bug_id}-{sql_id}-{cand.strategy}"
            json_bytes = bug_json(report).encode("utf-8", "surrogateescape")
            log_bytes = log_text.encode("utf-8", "surrogateescape")
            counts[cand.strategy] += 1
            found = f"logical bug!!! bugId = {bug_id} sqlId = {sql_id} mutationName = {cand.strategy}"
            info(found, saved_at)
            events.append((spec.start_ns + saved_at, f"task-{spec.task_id} detected a {found}"))
            if spec.killed and sql_id >= kill_query:
                # Killed while saving this bug: the .log made it, the .json only partly (§7.2: the pool exits
                # without waiting for running tasks).
                _write(os.path.join(bugs_dir, stem + ".log"), log_bytes)
                _write(os.path.join(bugs_dir, stem + ".json"), json_bytes[: max(1, len(json_bytes) // 2)])
                files += 2
                bug_refs.append(_BugRef(bug_id, sql_id, cand.strategy, None, complete=False))
                now = saved_at + 1_000
                killed_now = True
                break
            _write(os.path.join(bugs_dir, stem + ".log"), log_bytes)
            _write(os.path.join(bugs_dir, stem + ".json"), json_bytes)
            files += 2
            if spec.killed:
                bug_refs.append(_BugRef(bug_id, sql_id, cand.strategy, None))
                continue
            stable = rng.random() >= spec.unstable_share
            bug_refs.append(_BugRef(bug_id, sql_id, cand.strategy, stable))
            sub = os.path.join(task_dir, "maystable" if stable else "unstable")
            _write(os.path.join(sub, stem + ".json"), json_bytes)
            _write(os.path.join(sub, stem + ".log"), log_bytes)
            files += 2
            if stable:
                try:
                    sim_original, sim_mutated = simplify(query.sql, mutation.sql)
                except SqlSyntaxError as exc:
                    if len(engine_errors) < 20:
                        engine_errors.append(f"sqlsim: {exc}\n{query.sql}\n{mutation.sql}")
                    sim_original, sim_mutated = query.sql, mutation.sql
                sim_report = BugReport(report.report_time, bug_id, sql_id, cand.strategy, mutation.is_upper,
                                       sim_original, sim_mutated)
                sim_log = format_bug_log(BugLog(cand.strategy, mutation.is_upper,
                                                _result(rng, query.columns, original_rows),
                                                _result(rng, query.columns, mutated_rows), sim_original, sim_mutated))
                sim_dir = os.path.join(task_dir, "sqlsim")
                _write(os.path.join(sim_dir, stem + ".json"), bug_json(sim_report).encode("utf-8", "surrogateescape"))
                _write(os.path.join(sim_dir, stem + ".log"), sim_log.encode("utf-8", "surrogateescape"))
                files += 2
        if killed_now:
            break
        now += q_ns

    finished = not spec.killed
    if finished:
        now += rng.randrange(1_000_000, 20_000_000)
        info("Finished " + "*" * 50, now)
        result = TaskResult(
            start_time=base.string(), ddl_sqls_num=4, dml_sqls_num=spec.queries, end_init_time=at(end_init).string(),
            stage1_err_num=stage1_err, stage1_exec_err_num=stage1_exec_err, stage2_err_num=0,
            stage2_unit_num=stage2_units, stage2_unit_err_num=0, stage2_unit_exec_err_num=stage2_unit_exec_err,
            impo_bugs_num=len(bug_refs), save_bug_err_num=0, end_time=at(now).string(),
        )
        _write(os.path.join(task_dir, "result.json"), task_result_json(result).encode())
    _write(os.path.join(task_dir, "task.log"), "".join(log).encode("utf-8", "surrogateescape"))
    return _TaskOutcome(spec.run, spec.dbms, spec.task_id, spec.rel_pool, spec.start_ns, spec.start_ns + now, finished,
                        spec.queries, skipped, bug_refs, events, files, engine_errors)


# ---------------------------------------------------------------------------------------------------------
# Pool level.


@dataclass(frozen=True, slots=True)
class _Pool:
    run: int
    dbms: str
    dbms_index: int
    directory: Path
    rel: str  # relative to root, '/'-separated ('' never: at least the dbms name)
    seed: int
    start_ns: int
    mono_ns: int


def _pool_layout(root: Path, dbms: Sequence[str], runs: int, seed: int) -> list[_Pool]:
    pools = []
    base_ns = 1_669_860_000_000_000_000  # 2022-12-01 10:00 +0800, near QTRAN's runs
    for run in range(1, runs + 1):
        for index, name in enumerate(dbms):
            rel = name if runs == 1 else f"output{run}/{name}"
            pool_seed = seed + ((run - 1) * len(dbms) + index) * 1_000_003
            rng = random.Random(f"pinoloft-pool:{pool_seed}")
            start = (base_ns + (run - 1) * 3 * 86_400 * 10**9 + index * 6 * 3_600 * 10**9
                     + (seed % 86_400) * 10**9 + rng.randrange(10**9))
            mono = rng.randrange(3_000_000, 40_000_000)  # the pool process started a few ms before its first log
            pools.append(_Pool(run, name, index, root / rel, rel, pool_seed, start, mono))
    return pools


def _clear_tree(root: Path, dbms: Sequence[str]) -> None:
    """Remove what an earlier generation may have left: pool dirs, output<N> dirs, the manifest."""
    if not root.exists():
        return
    if not root.is_dir():
        raise GenerateError(f"--root {root} exists and is not a directory")
    names = set(KNOWN_DBMS) | set(dbms)
    for child in root.iterdir():
        if child.name == MANIFEST_NAME and child.is_file():
            child.unlink()
        elif child.is_dir() and (child.name in names or re.fullmatch(r"output\d+", child.name)):
            shutil.rmtree(child)


def _task_specs(
    pools: Sequence[_Pool], tasks: int, queries: int, mix: dict[str, float], unstable_share: float,
    all_strategies: bool, killed: set[tuple[int, int]], password_at: tuple[int, int] | None,
) -> list[_TaskSpec]:
    nominal = 400_000_000 + queries * QUERY_NOMINAL_NS + 30_000_000
    specs = []
    mix_items = tuple(sorted(mix.items()))
    for p_index, pool in enumerate(pools):
        rng = random.Random(f"pinoloft-schedule:{pool.seed}")
        for task_id in range(tasks):
            slot, thread = divmod(task_id, THREADS)
            offset = 15_000_000 + slot * (nominal + 2_000_000) + thread * 1_500_000 + rng.randrange(1_000_000)
            specs.append(_TaskSpec(
                pool_dir=str(pool.directory), rel_pool=pool.rel, run=pool.run, dbms=pool.dbms, task_id=task_id,
                task_seed=pool.seed + task_id, queries=queries, mix=mix_items, unstable_share=unstable_share,
                all_strategies=all_strategies, start_ns=pool.start_ns + offset, mono_ns=pool.mono_ns + offset,
                thread=thread, password=LEAKED_PASSWORD if password_at == (p_index, task_id) else "",
                killed=(p_index, task_id) in killed,
            ))
    return specs


def _write_pool_files(pool: _Pool, outcomes: Sequence[_TaskOutcome]) -> None:
    base = GoTime(pool.start_ns, mono_ns=pool.mono_ns)
    lines: list[tuple[int, int, str]] = [(pool.start_ns, 0, "Running " + "*" * 50)]
    seq = 1
    for o in outcomes:
        lines.append((o.start_ns, seq, f"Run task{o.task_id}"))
        seq += 1
        for ns, msg in o.events:
            lines.append((ns, seq, msg))
            seq += 1
        if o.finished:
            lines.append((o.end_ns, seq, f"task{o.task_id} Finished"))
            seq += 1
    finished = [o for o in outcomes if o.finished]
    last = max([o.end_ns for o in finished] + [ns for ns, _, _ in lines])
    end_ns = last + 1_000_000 + (pool.seed % 9_000_000)
    lines.append((end_ns, seq, "max tasks!"))
    lines.append((end_ns + 50_000, seq + 1, "Finished " + "*" * 50))
    lines.sort()
    text = "".join(logrus_line(base.plus(ns - pool.start_ns), "info", msg) for ns, _, msg in lines)
    _write(str(pool.directory / "taskpool.log"), text.encode())
    by_finish = sorted(finished, key=lambda o: (o.end_ns, o.task_id))
    result = PoolResult(
        start_time=base.string(), total_task_num=len(outcomes), finished_task_num=len(finished), error_task_num=0,
        error_task_ids=(), bugs_num=sum(len(o.bugs) for o in finished),
        bug_task_ids=tuple(o.task_id for o in by_finish if o.bugs), end_time=base.plus(end_ns - pool.start_ns).string(),
    )
    _write(str(pool.directory / "result.json"), pool_result_json(result).encode())


# ---------------------------------------------------------------------------------------------------------
# Faults.


@dataclass(slots=True)
class _FaultContext:
    """State of the fault pass: shuffled bug lists consumed front to back, so picking stays O(1)."""

    root: Path
    rng: random.Random
    outcomes: list[_TaskOutcome]
    runs: int
    entries: list[dict[str, Any]] = field(default_factory=list)
    used: set[tuple[str, int, int]] = field(default_factory=set)  # (rel_pool, task, bug_id)
    touched: int = 0
    any_bugs: list[tuple[_TaskOutcome, _BugRef]] = field(default_factory=list)
    stable_bugs: list[tuple[_TaskOutcome, _BugRef]] = field(default_factory=list)
    by_name: dict[str, list[tuple[_TaskOutcome, _BugRef]]] = field(default_factory=dict)
    orphan_ids: dict[tuple[str, int], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for o in self.outcomes:
            if not o.finished:
                continue
            for b in o.bugs:
                self.any_bugs.append((o, b))
                if b.stable:
                    self.stable_bugs.append((o, b))
                    self.by_name.setdefault(b.name, []).append((o, b))
        self.rng.shuffle(self.any_bugs)
        self.rng.shuffle(self.stable_bugs)

    def rel(self, outcome: _TaskOutcome, *parts: str) -> str:
        return "/".join((outcome.rel_pool, f"task-{outcome.task_id}") + parts)

    def path(self, rel: str) -> Path:
        return self.root.joinpath(*rel.split("/"))

    def is_used(self, o: _TaskOutcome, b: _BugRef) -> bool:
        return (o.rel_pool, o.task_id, b.bug_id) in self.used

    def mark(self, o: _TaskOutcome, b: _BugRef) -> None:
        self.used.add((o.rel_pool, o.task_id, b.bug_id))

    def add(self, kind: str, outcome: _TaskOutcome, paths: list[str], expect: str, **extra: Any) -> None:
        entry = {"kind": kind, "run": outcome.run, "dbms": outcome.dbms, "task": outcome.task_id, "paths": paths,
                 "expect": expect}
        entry.update(extra)
        self.entries.append(entry)


def _bug_copies(bug: _BugRef) -> list[str]:
    if bug.stable is None:
        return ["bugs"]
    return ["bugs", "maystable", "sqlsim"] if bug.stable else ["bugs", "unstable"]


def _take(ctx: _FaultContext, need_stable: bool = False) -> tuple[_TaskOutcome, _BugRef] | None:
    """The next unused bug (a stable one if asked) from the shuffled lists, marked used; None when none left."""
    source = ctx.stable_bugs if need_stable else ctx.any_bugs
    while source:
        o, b = source.pop()
        if not ctx.is_used(o, b):
            ctx.mark(o, b)
            return o, b
    return None


def _rewrite_sql(ctx: _FaultContext, rel_json: str, original: str | None, mutated: str | None) -> None:
    """Replace the SQL fields of a bug JSON and of its sibling .log, keeping everything else."""
    jpath = ctx.path(rel_json)
    report = parse_bug_json(jpath.read_bytes())
    new = BugReport(report.report_time, report.bug_id, report.sql_id, report.mutation_name, report.is_upper,
                    report.original_sql if original is None else original,
                    report.mutated_sql if mutated is None else mutated)
    _write(str(jpath), bug_json(new).encode())
    lpath = jpath.with_suffix(".log")
    if lpath.exists():
        log = parse_bug_log(lpath.read_text(encoding="utf-8"))
        log = BugLog(log.mutation_name, log.is_upper, log.original, log.mutated, new.original_sql, new.mutated_sql)
        _write(str(lpath), format_bug_log(log).encode())


def _fault_simple(ctx: _FaultContext, kind: str) -> bool:
    taken = _take(ctx)
    if taken is None:
        return False
    o, b = taken
    sub = ctx.rng.choice(_bug_copies(b))
    rel_json = ctx.rel(o, sub, b.file_stem + ".json")
    rel_log = ctx.rel(o, sub, b.file_stem + ".log")
    jpath = ctx.path(rel_json)
    data = jpath.read_bytes()
    if kind == "truncated_json":
        cut = ctx.rng.randrange(10, max(11, len(data) - 5))
        _write(str(jpath), data[:cut])
        ctx.add(kind, o, [rel_json], "quarantine: invalid JSON (file truncated); do not ingest the pair", bytes=cut)
        ctx.touched += 1
    elif kind == "empty_json":
        _write(str(jpath), b"")
        ctx.add(kind, o, [rel_json], "quarantine: empty bug JSON; do not ingest the pair")
        ctx.touched += 1
    elif kind == "invalid_utf8":
        marker = b'"originalSql":"'
        at = data.index(marker) + len(marker) + ctx.rng.randrange(1, 40)
        _write(str(jpath), data[:at] + b"\xc3\x28\xff" + data[at:])
        ctx.add(kind, o, [rel_json], "quarantine: bug JSON is not valid UTF-8; do not ingest the pair", byte_offset=at)
        ctx.touched += 1
    elif kind == "unknown_mutation":
        foreign = ctx.rng.choice(FOREIGN_NAMES)
        report = parse_bug_json(data)
        new = BugReport(report.report_time, report.bug_id, report.sql_id, foreign, report.is_upper,
                        report.original_sql, report.mutated_sql)
        new_stem = f"bug-{b.bug_id}-{b.sql_id}-{foreign}"
        new_json = ctx.rel(o, sub, new_stem + ".json")
        new_log = ctx.rel(o, sub, new_stem + ".log")
        _write(str(ctx.path(new_json)), bug_json(new).encode())
        log_text = ctx.path(rel_log).read_text(encoding="utf-8")
        log_text = log_text.replace(f"[MutationName] {b.name}\n", f"[MutationName] {foreign}\n", 1)
        _write(str(ctx.path(new_log)), log_text.encode())
        jpath.unlink()
        ctx.path(rel_log).unlink()
        ctx.add(kind, o, [new_json, new_log],
                f"quarantine: mutation name {foreign!r} is not one of PINOLO's 18 strategies", name=foreign,
                replaces=[rel_json, rel_log])
        ctx.touched += 2
    elif kind == "json_without_log":
        ctx.path(rel_log).unlink()
        ctx.add(kind, o, [rel_json], "bug JSON without its .log: results unavailable; flag (or quarantine) "
                "as missing_log, the pair itself is intact", missing=rel_log)
        ctx.touched += 1
    elif kind == "non_select_drop":
        _rewrite_sql(ctx, rel_json, None, "DROP TABLE `table_7_utf8_undef`")
        ctx.add(kind, o, [rel_json, rel_log], "reject: mutatedSql is not a SELECT (DROP TABLE); never execute it")
        ctx.touched += 2
    elif kind == "non_select_multi":
        report = parse_bug_json(data)
        _rewrite_sql(ctx, rel_json, report.original_sql + "; DROP TABLE `table_3_utf8_undef`", None)
        ctx.add(kind, o, [rel_json, rel_log],
                "reject: originalSql holds two statements (SELECT …; DROP TABLE …); never execute it")
        ctx.touched += 2
    return True


def _fault_orphan_sqlsim(ctx: _FaultContext) -> bool:
    taken = _take(ctx, need_stable=True)
    if taken is None:
        return False
    o, b = taken
    key = (o.rel_pool, o.task_id)
    if key not in ctx.orphan_ids:
        ctx.orphan_ids[key] = max(x.bug_id for x in o.bugs) + 1 + ctx.rng.randrange(1, 50)
    new_id = ctx.orphan_ids[key]
    ctx.orphan_ids[key] += 1 + ctx.rng.randrange(3)  # never reuse an id: two orphans must not collide
    src_json = ctx.path(ctx.rel(o, "sqlsim", b.file_stem + ".json"))
    src_log = src_json.with_suffix(".log")
    report = parse_bug_json(src_json.read_bytes())
    new = BugReport(report.report_time, new_id, report.sql_id, report.mutation_name, report.is_upper,
                    report.original_sql, report.mutated_sql)
    stem = f"bug-{new_id}-{b.sql_id}-{b.name}"
    rel_json = ctx.rel(o, "sqlsim", stem + ".json")
    rel_log = ctx.rel(o, "sqlsim", stem + ".log")
    _write(str(ctx.path(rel_json)), bug_json(new).encode())
    shutil.copyfile(src_log, ctx.path(rel_log))
    ctx.add("orphan_sqlsim", o, [rel_json, rel_log],
            "sqlsim report with no bug of that key in bugs/ or maystable/: orphan; do not join it to any pair")
    ctx.touched += 2
    return True


def _fault_duplicate(ctx: _FaultContext, kind: str) -> bool:
    """Give a bug of task B the exact pair of a bug of task A (same strategy), keeping B's ids and times."""
    across_runs = kind == "duplicate_across_runs"
    for _ in range(200):
        taken = _take(ctx, need_stable=True)
        if taken is None:
            return False
        src_o, src_b = taken
        same_name = ctx.by_name.get(src_b.name, [])
        target = None
        for _ in range(min(200, len(same_name) * 2)):
            o, b = same_name[ctx.rng.randrange(len(same_name))]
            if ctx.is_used(o, b) or (o.rel_pool, o.task_id) == (src_o.rel_pool, src_o.task_id):
                continue
            if (o.run != src_o.run) == across_runs:
                target = (o, b)
                break
        if target is None:
            continue  # the source stays marked used: it is simply left undamaged
        dst_o, dst_b = target
        ctx.mark(dst_o, dst_b)
        paths = []
        for sub in ("bugs", "maystable", "sqlsim"):
            src = parse_bug_json(ctx.path(ctx.rel(src_o, sub, src_b.file_stem + ".json")).read_bytes())
            rel_json = ctx.rel(dst_o, sub, dst_b.file_stem + ".json")
            dst = parse_bug_json(ctx.path(rel_json).read_bytes())
            new = BugReport(dst.report_time, dst.bug_id, dst.sql_id, dst.mutation_name, src.is_upper,
                            src.original_sql, src.mutated_sql)
            _write(str(ctx.path(rel_json)), bug_json(new).encode("utf-8", "surrogateescape"))
            rel_log = ctx.rel(dst_o, sub, dst_b.file_stem + ".log")
            shutil.copyfile(ctx.path(ctx.rel(src_o, sub, src_b.file_stem + ".log")), ctx.path(rel_log))
            paths += [rel_json, rel_log]
        source = ctx.rel(src_o, "bugs", src_b.file_stem + ".json")
        where = "another run" if across_runs else "another task of the same run"
        ctx.add(kind, dst_o, paths, f"duplicate pair: same mutationName, originalSql and mutatedSql as {source} "
                f"({where}); deduplicate to one pair, keeping both provenances", source=source)
        ctx.touched += len(paths)
        return True
    return False


def _apply_faults(root: Path, outcomes: list[_TaskOutcome], runs: int, seed: int, share: float,
                  report_files: int, pre: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ctx = _FaultContext(root, random.Random(f"pinoloft-faults:{seed}"), outcomes, runs)
    ctx.entries.extend(pre)
    bulk = ["truncated_json", "empty_json", "invalid_utf8", "unknown_mutation", "json_without_log",
            "non_select_drop", "non_select_multi", "orphan_sqlsim", "duplicate_across_tasks"]
    if runs > 1:
        bulk.append("duplicate_across_runs")
    target = max(len(bulk), round(share * report_files))
    exhausted: set[str] = set()
    first_round = True
    while True:
        order = list(bulk)
        ctx.rng.shuffle(order)
        progressed = False
        for kind in order:
            if kind in exhausted:
                continue
            if not first_round and ctx.touched >= target:
                break
            if kind == "orphan_sqlsim":
                ok = _fault_orphan_sqlsim(ctx)
            elif kind.startswith("duplicate"):
                ok = _fault_duplicate(ctx, kind)
            else:
                ok = _fault_simple(ctx, kind)
            if ok:
                progressed = True
            else:
                exhausted.add(kind)
        first_round = False
        if ctx.touched >= target or not progressed:
            break
    missing = [k for k in bulk if not any(e["kind"] == k for e in ctx.entries)]
    if missing:
        raise GenerateError(
            f"the tree is too small to hold every fault kind (could not place: {', '.join(missing)}); "
            "generate more tasks/queries (duplicates need 2+ tasks with stable bugs of the same strategy)"
        )
    return ctx.entries


# ---------------------------------------------------------------------------------------------------------
# Entry point.


def generate(
    root: str | os.PathLike[str],
    dbms: Sequence[str] = ("mysql",),
    runs: int = 1,
    tasks: int = 4,
    queries: int = 100,
    seed: int = 1,
    faults: float = 0.0,
    mix: dict[str, float] | str | None = None,
    unstable_share: float = 0.15,
    all_strategies: bool = False,
    workers: int | None = None,
    quiet: bool = False,
) -> GenerateSummary:
    """Write a PINOLO output tree under `root` (replacing an earlier one) and describe what was written.

    Replacing means removing, directly under `root`: the requested pool dirs and any named like a PINOLO
    dbms (mysql, mariadb, tidb, oceanbase), every `output<N>` dir, and the fault manifest; other entries
    are left alone. Pool k (runs outermost, then `dbms` order, k from 0) gets seed `seed + k * 1000003`,
    and its tasks `pool seed + task id` (§7.2), so the one-pool case uses `seed` itself.

    Raises GenerateError for bad arguments or when faults are asked of a tree too small to hold them all.
    """
    began = time.perf_counter()
    root_path = Path(root).absolute()
    dbms = tuple(dbms)
    if not dbms:
        raise GenerateError("at least one dbms is needed")
    for name in dbms:
        if not _DBMS_RE.match(name):
            raise GenerateError(f"dbms name {name!r} must be lowercase letters, digits or '_'")
    if len(set(dbms)) != len(dbms):
        raise GenerateError(f"dbms names repeat: {', '.join(dbms)}")
    if runs < 1 or tasks < 1 or queries < 1:
        raise GenerateError(f"runs, tasks and queries must be >= 1 (got {runs}, {tasks}, {queries})")
    if not 0.0 <= faults < 1.0:
        raise GenerateError(f"faults must be a share in [0, 1), got {faults}")
    if not 0.0 <= unstable_share <= 1.0:
        raise GenerateError(f"unstable_share must be in [0, 1], got {unstable_share}")
    if workers is not None and workers < 1:
        raise GenerateError(f"workers must be >= 1, got {workers}")
    weights = parse_mix(mix)

    pools = _pool_layout(root_path, dbms, runs, seed)
    killed: set[tuple[int, int]] = set()
    password_at: tuple[int, int] | None = None
    pre_faults: list[dict[str, Any]] = []
    if faults > 0:
        frng = random.Random(f"pinoloft-prefaults:{seed}")
        killed.add((0, tasks - 1))
        candidates_pw = [(p, t) for p in range(len(pools)) for t in range(tasks) if (p, t) not in killed]
        password_at = frng.choice(candidates_pw) if candidates_pw else (0, tasks - 1)

    _clear_tree(root_path, dbms)
    for pool in pools:
        pool.directory.mkdir(parents=True)
    specs = _task_specs(pools, tasks, queries, weights, unstable_share, all_strategies, killed, password_at)

    n_workers = workers or os.cpu_count() or 1
    n_workers = max(1, min(n_workers, len(specs)))
    outcomes: list[_TaskOutcome] = []
    progress = _Progress(len(specs), quiet)
    files = 0
    try:
        if n_workers == 1:
            results: Iterable[_TaskOutcome] = map(_run_task, specs)
            for outcome in results:
                outcomes.append(outcome)
                files += outcome.report_files
                progress.step(files)
        else:
            ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
            with ctx.Pool(n_workers) as mp:
                for outcome in mp.imap_unordered(_run_task, specs, chunksize=1):
                    outcomes.append(outcome)
                    files += outcome.report_files
                    progress.step(files)
    finally:
        progress.close()
    outcomes.sort(key=lambda o: (o.run, dbms.index(o.dbms), o.task_id))

    for pool in pools:
        _write_pool_files(pool, [o for o in outcomes if o.run == pool.run and o.dbms == pool.dbms])

    fault_entries: list[dict[str, Any]] = []
    report_files = sum(o.report_files for o in outcomes)
    if faults > 0:
        for p_index, t in sorted(killed):
            pool = pools[p_index]
            o = next(x for x in outcomes if (x.run, x.dbms, x.task_id) == (pool.run, pool.dbms, t))
            rel_task = f"{o.rel_pool}/task-{o.task_id}"
            partial = [f"{rel_task}/bugs/{b.file_stem}.json" for b in o.bugs if not b.complete]
            pre_faults.append({
                "kind": "killed_task", "run": o.run, "dbms": o.dbms, "task": o.task_id,
                "paths": [rel_task] + partial,
                "expect": "task killed by the pool's exit: no result.json and no 'Finished' in task.log, not counted "
                          "in the pool's finishedTaskNum/bugsNum; "
                          + (f"{len(o.bugs) - len(partial)} complete bug(s) in bugs/ and the last one's JSON cut "
                             "mid-write (quarantine it)" if partial else "no bug was saved before the kill")
                          + "; no maystable/unstable/sqlsim",
                "complete_bugs": len(o.bugs) - len(partial),
            })
        if password_at is not None:
            pool = pools[password_at[0]]
            pre_faults.append({
                "kind": "config_password", "run": pool.run, "dbms": pool.dbms, "task": password_at[1],
                "paths": [f"{pool.rel}/task-{password_at[1]}-config.json"],
                "expect": "task config holds a plaintext password: read the config but never store or log the "
                          "password (redact it)",
            })
        fault_entries = _apply_faults(root_path, outcomes, runs, seed, faults, report_files, pre_faults)
        manifest = {
            "note": "pinoloft fault manifest: NOT PINOLO output. Ingest must skip this file; it is the answer key "
                    "listing every damaged file and what a correct reader concludes.",
            "seed": seed, "faults": faults, "runs": runs, "dbms": list(dbms), "tasks": tasks, "queries": queries,
            "entries": fault_entries,
        }
        _write(str(root_path / MANIFEST_NAME), (json.dumps(manifest, indent=1, ensure_ascii=False) + "\n").encode())

    bugs = {name: 0 for name in STRATEGIES}
    for o in outcomes:
        for b in o.bugs:
            bugs[b.name] += 1
    report_files = _count_report_files(outcomes, fault_entries, report_files)
    errors: list[str] = []
    for o in outcomes:
        errors.extend(o.engine_errors)
    return GenerateSummary(
        root=str(root_path), runs=runs, dbms=dbms, tasks=len(outcomes), queries=sum(o.queries for o in outcomes),
        skipped_queries=sum(o.skipped for o in outcomes), bugs=bugs, report_files=report_files,
        faults=dict(Counter(e["kind"] for e in fault_entries)), seconds=time.perf_counter() - began,
        engine_errors=tuple(errors[:50]),
    )


def _count_report_files(outcomes: Sequence[_TaskOutcome], entries: Sequence[dict[str, Any]], written: int) -> int:
    """Report files on disk after faults: written ones, plus orphan sqlsim pairs, minus deleted .logs."""
    delta = 0
    for e in entries:
        if e["kind"] == "orphan_sqlsim":
            delta += 2
        elif e["kind"] == "json_without_log":
            delta -= 1
    return written + delta


class _Progress:
    """tqdm bar over tasks with a files/s postfix; a no-op when quiet."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.start = time.perf_counter()
        self.bar = progress_bar(total=total, desc="generate", unit="task", quiet=quiet)

    def step(self, files: int) -> None:
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        self.bar.set_postfix(files=files, files_s=f"{files / elapsed:.0f}", refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()
