"""Benchmark: the whole run a user makes, from PINOLO trees to a dataset, stage by stage against its floor.

    python bench/pipeline.py [--reports N] [--runs R] [--dbms LIST] [--jobs J] [--dir PARENT] [--tree PATH] [--keep]

A generated tree (`simulator.generator.generate`, >= N reports, default 200,000 = 400,000 files, over 4 runs x 4 DBMSs,
1% faults so that quarantine paths run too) goes through the stages exactly as `make ingest transform
validate export` runs them: each stage is the `pinoloft` command in a child process, on one warehouse.

| stage | command | floor (the bare operation the stage cannot beat, measured in this run) |
|---|---|---|
| ingest | `pinoloft ingest --root TREE` | walk the tree and read every file's bytes in one plain loop |
| check | `pinoloft check` | read the judged pairs, tokenize both texts with one regex, compare the lists (1 core) |
| transform | `pinoloft transform --skip-check` | `CREATE TABLE AS SELECT DISTINCT` over the raw bug reports |
| validate | `pinoloft validate --dataset bench` | a bare pymysql execute+fetchall loop over the same statements, in as many processes as the stage has jobs, on an already running server |
| export | `pinoloft export --dataset bench` | read the dataset's rows and json.dumps each chat example to one file |

For each stage it prints the wall time (the interpreter's start included, as a user waits for it), the floor,
their ratio (stage / floor: 1.0 would be as fast as the bare operation) and the peak RSS of the stage's whole
process tree: the sum of the resident sizes of the command and its worker processes, sampled every 50 ms
(pages shared after a fork are counted once per process, so this is an upper bound). The throwaway MariaDB
that `validate` starts is the target, not our process, and is left out of the sum. The validate stage
includes what a user waits for: the server's start-up, loading its database, the run and the dbt build that
joins the logs; its runner-only time is printed beside it.

The dataset (`bench`, written to the work folder's datasets/): the 10 strategies PINOLO's grammar fires,
4 DBMSs, 500 pairs each in sqlsim form, 80/10/10, top-ups on. Floors run after their stage, on the same
data. The work folder (warehouse, exports and the tree unless --tree names it) is deleted at the end unless
--keep.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import duckdb  # noqa: E402

from floors import TOKEN_RE, dump_chat_examples, read_tree  # noqa: E402
from simulator.generator import generate  # noqa: E402

DBMS = ("mysql", "mariadb", "tidb", "oceanbase")
QUERIES_PER_TASK = 500
SAMPLE_SECONDS = 0.05
DATASET = "bench"
FIRING_STRATEGIES = ("FixMDistinctL", "FixMHaving1U", "FixMCmpOpU", "FixMOn1U", "FixMInNullU", "FixMWhere1U",
                     "FixMCmpOpL", "FixMWhere0L", "FixMHaving0L", "FixMOn0L")


@dataclass
class Stage:
    name: str
    seconds: float
    floor: float
    peak_rss: int
    detail: str = ""

    @property
    def ratio(self) -> float:
        return self.seconds / self.floor if self.floor else float("inf")


# -- peak RSS of a process tree ------------------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found.extend(int(child) for child in handle.read().split())
    except OSError:
        pass
    return found


def _rss_and_name(pid: int) -> tuple[int, str]:
    try:
        with open(f"/proc/{pid}/status") as handle:
            name, rss = "", 0
            for line in handle:
                if line.startswith("Name:"):
                    name = line.split()[1]
                elif line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
            return rss, name
    except OSError:
        return 0, ""


def tree_rss(pid: int, leave_out: tuple[str, ...] = ("mariadbd", "mysqld")) -> int:
    """The summed RSS of `pid` and its descendants, leaving out the database server (and what it starts)."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        rss, name = _rss_and_name(current)
        if name in leave_out:
            continue
        total += rss
        stack.extend(_children(current))
    return total


def run_stage(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Run one command; (wall seconds, peak tree RSS in bytes, its stdout). Fails loudly on a non-zero exit."""
    started = time.perf_counter()
    process = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, tree_rss(process.pid))
            stop.wait(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    if process.returncode not in (0, 1):  # 1: findings (a warning in the export, a failed dbt test) still ran
        raise SystemExit(f"{' '.join(args[1:4])}… failed with exit {process.returncode}:\n{stderr[-4000:]}")
    return seconds, peak, stdout + stderr


# -- floors ---------------------------------------------------------------------------------------------------

def check_floor(warehouse: Path) -> tuple[float, int]:
    """Read the pairs `check` judged and compare their one-regex token lists; (seconds, pairs)."""
    started = time.perf_counter()
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cursor = con.execute("SELECT original_sql, mutated_sql FROM raw.mutation_verdicts")
        pairs = 0
        while rows := cursor.fetchmany(4096):
            for original, mutated in rows:
                _ = TOKEN_RE.findall(original) == TOKEN_RE.findall(mutated)
            pairs += len(rows)
    finally:
        con.close()
    return time.perf_counter() - started, pairs


def transform_floor(warehouse: Path) -> float:
    """A bare dedupe of the raw bug reports, read from the warehouse, into memory."""
    started = time.perf_counter()
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{warehouse}' AS w (READ_ONLY)")
        con.execute("CREATE TABLE deduped AS SELECT DISTINCT mutation_name, original_sql, mutated_sql "
                    "FROM w.raw.bug_reports")
    finally:
        con.close()
    return time.perf_counter() - started


def _bare_statements(arguments) -> tuple[int, float, float]:
    reader, jobs = arguments
    connections: dict[str, object] = {}
    started = time.perf_counter()
    for database, statement in jobs:
        connection = connections.get(database)
        if connection is None:
            connection = connections[database] = reader.connect(database=database)
        cursor = connection.cursor()
        try:
            cursor.execute(statement)
            cursor.fetchall()
        except Exception:  # the stage meets the same errors; the floor only has to go on
            pass
    finished = time.perf_counter()
    for connection in connections.values():
        connection.close()
    return len(jobs), started, finished


def validate_floor(warehouse: Path, work: Path, jobs: int, repeats: int) -> tuple[float, int]:
    """The same statements as the stage's run, bare, in `jobs` processes on a running server; (seconds, count)."""
    from validation import Scope, ThrowawayServer
    from validation.databases import DatabaseLoader
    from validation.scope import read_scope

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        pairs, texts = read_scope(con, Scope(dataset=DATASET))
    finally:
        con.close()
    server = ThrowawayServer(work / "floor-mariadb")
    server.start()
    try:
        reader = server.reader()
        with DatabaseLoader(server.admin(), reader.user) as loader:
            databases = {sha: loader.ensure(sha, text, source) for sha, (text, source) in texts.items()}
        statements = [(databases[pair.data_sql_hash], sql) for pair in pairs for _, original, mutated in pair.forms()
                      for _ in range(repeats) for sql in (original, mutated)]
        shares = [statements[index::jobs] for index in range(jobs)]
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            results = pool.map(_bare_statements, [(reader, share) for share in shares])
    finally:
        server.stop()
    seconds = max(end for _, _, end in results) - min(start for _, start, _ in results)
    return seconds, sum(count for count, _, _ in results)


# -- the run --------------------------------------------------------------------------------------------------

def write_dataset(folder: Path, dbms: tuple[str, ...]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{DATASET}.yml").write_text(
        f"dbms: [{', '.join(dbms)}]\n"
        f"strategies: [{', '.join(FIRING_STRATEGIES)}]\n"
        "quota: 500\nmax_length: 3000\nform: sqlsim\nsplits: {train: 0.8, validation: 0.1, test: 0.1}\nseed: 42\n"
        "top_up: true\nrequire_conforming: true\nrequire_executable: false\ntarget: mariadb\n")


def grow_tree(root: Path, parent: Path, reports: int, runs: int, dbms: tuple[str, ...]) -> int:
    """Generate >= `reports` reports (a report is a .json + .log pair in bugs/, maystable/, unstable/ or sqlsim/);
    the tasks per pool come from a small calibration run."""
    calibration = Path(tempfile.mkdtemp(prefix="pinoloft-calib-", dir=parent))
    try:
        small = generate(calibration, dbms=dbms, runs=1, tasks=2, queries=QUERIES_PER_TASK, seed=424242, faults=0.01,
                         quiet=True)
        per_task = small.report_files / 2 / (len(dbms) * 2)
    finally:
        shutil.rmtree(calibration, ignore_errors=True)
    tasks = max(1, math.ceil(reports * 1.05 / (per_task * runs * len(dbms))))
    started = time.perf_counter()
    summary = generate(root, dbms=dbms, runs=runs, tasks=tasks, queries=QUERIES_PER_TASK, seed=20261203,
                       faults=0.01, quiet=True)
    print(f"generated: {summary.report_files // 2:,} reports ({summary.total_bugs:,} bugs), {summary.report_files:,} files "
          f"({runs} runs x {len(dbms)} DBMSs x {tasks} tasks x {QUERIES_PER_TASK} queries) in "
          f"{time.perf_counter() - started:.0f}s", flush=True)
    return summary.report_files // 2


def mib(value: int) -> str:
    return f"{value / 1024 ** 2:,.0f} MiB"


def table(stages: list[Stage]) -> str:
    lines = ["| stage | time | floor | ratio | peak RSS |", "|---|---:|---:|---:|---:|"]
    for stage in stages:
        lines.append(f"| {stage.name} | {stage.seconds:.1f} s | {stage.floor:.1f} s | {stage.ratio:.2f}x | "
                     f"{mib(stage.peak_rss)} |")
    total, floor = sum(s.seconds for s in stages), sum(s.floor for s in stages)
    lines.append(f"| **total** | {total:.1f} s | {floor:.1f} s | {total / floor:.2f}x | "
                 f"{mib(max(s.peak_rss for s in stages))} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=200_000, help="minimum reports (.json + .log pairs) to generate")
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--dbms", default=",".join(DBMS), help="comma-separated DBMS pools per run")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="--jobs of every stage")
    parser.add_argument("--repeats", type=int, default=3, help="validate --repeats (make validate's default)")
    parser.add_argument("--dir", default=None, help="parent folder of the work folder")
    parser.add_argument("--tree", default=None, help="the tree to use: generated there first when the folder does not exist, and kept")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (tree, warehouse, exports)")
    args = parser.parse_args(argv)
    dbms = tuple(name.strip() for name in args.dbms.split(",") if name.strip())

    parent = Path(args.dir or tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="pinoloft-bench-pipeline-", dir=parent))
    root = Path(args.tree) if args.tree else work / "pinolo"
    warehouse = work / "warehouse.duckdb"
    write_dataset(work / "datasets", dbms)
    command = [str(REPO / ".venv" / "bin" / "pinoloft"), "--quiet", "--warehouse", str(warehouse)]
    if not Path(command[0]).exists():
        command[0:1] = [sys.executable, "-m", "pinoloft"]
    jobs = ["--jobs", str(args.jobs)]
    stages: list[Stage] = []
    try:
        if not root.exists():
            grow_tree(root, parent, args.reports, args.runs, dbms)
        print(f"{os.cpu_count()} cores, --jobs {args.jobs}; work folder {work}", flush=True)
        read_tree(root)  # the first pass may find the files out of the page cache: warm it, untimed

        seconds, peak, output = run_stage(command + ["ingest", "--root", str(root)] + jobs, work)
        floor = min(read_tree(root)[0], read_tree(root)[0])
        stages.append(Stage("ingest", seconds, floor, peak, output.strip().splitlines()[-1] if output.strip() else ""))

        seconds, peak, _ = run_stage(command + ["check"] + jobs, work)
        floor, judged = check_floor(warehouse)
        stages.append(Stage("check", seconds, floor, peak, f"{judged:,} distinct pairs judged"))

        seconds, peak, _ = run_stage(command + ["transform", "--skip-check", "--datasets-dir",
                                                str(work / "datasets")] + jobs, work)
        stages.append(Stage("transform", seconds, transform_floor(warehouse), peak))

        seconds, peak, _ = run_stage(command + ["validate", "--dataset", DATASET, "--repeats", str(args.repeats),
                                                "--server-dir", str(work / "mariadb")] + jobs, work)
        floor, statements = validate_floor(warehouse, work, args.jobs, args.repeats)
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            executed, = con.execute("SELECT sum(statements_executed) FROM raw.validation_invocations").fetchone()
            runner = con.execute("SELECT epoch(max(finished_at) - min(started_at)) FROM raw.validation_invocations"
                                 ).fetchone()[0]
        finally:
            con.close()
        stages.append(Stage("validate", seconds, floor, peak,
                            f"{executed:,} statements executed ({statements:,} in the floor); the run itself "
                            f"{runner:.1f} s, the rest is the server's start, its database and the dbt build"))

        seconds, peak, _ = run_stage(command + ["export", "--dataset", DATASET, "--out", str(work / "exports")]
                                     + jobs, work)
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            examples, = con.execute("SELECT count(*) FROM marts.dataset_examples WHERE dataset_name = ?",
                                    [DATASET]).fetchone()
        finally:
            con.close()
        stages.append(Stage("export", seconds, dump_chat_examples(warehouse, work / "floor.jsonl"), peak,
                            f"{examples:,} examples"))

        print()
        print(table(stages))
        print()
        for stage in stages:
            if stage.detail:
                print(f"{stage.name}: {stage.detail}")
        return 0
    finally:
        if args.keep:
            print(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
