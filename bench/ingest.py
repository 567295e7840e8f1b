"""Benchmark: `ingest load` of a generated PINOLO tree against a plain read loop (the floor), plus `check`.

    python bench/ingest.py [--reports N | --files N] [--dbms D ...] [--runs R] [--dir PARENT] [--workers W]
                           [--jobs J] [--tree PATH] [--keep] [--skip-check]

Steps, all in one run:

1. generate a PINOLO tree with `simulator.generator.generate`: at least `--reports N` bug reports (a report
   is a .json and its .log; issue 15 measures 40,000 and 1,000,000) or at least `--files N` report files
   (default 1,000,000 files), in one DBMS pool unless `--dbms`/`--runs` say otherwise (~110 s per
   1,000,000 files); or reuse `--tree PATH` (a tree left by an earlier `--keep`);
2. baseline (the floor): a plain Python loop that walks the tree and reads every file's bytes
   (`open(…).read()`), nothing else; run twice before the loads (the first pass may find the files out of
   the page cache) and once after; the ratio is taken against the fastest pass (and, for reference, the mean);
3. fixed cost: the load of an empty tree (one pool, one empty task folder) in a child process, the same way
   as step 4: interpreter start, imports, worker start, schema, commit;
4. first load into a new warehouse, in a child process (`ingest.loader.load`): seconds (wall, including
   the interpreter's start) and peak RSS from `resource.getrusage`: the child's own maximum plus, for its
   worker processes, their largest maximum times their number (RUSAGE_CHILDREN reports one maximum, not
   a sum, so this bound is conservative). The marginal time is this wall minus step 3's;
5. re-load of the unchanged tree: seconds and ratio to the first;
6. `check` on all cores: distinct pairs judged, pairs/s and pairs/s per core; then a rerun with nothing new;
   and, for the per-core rate without process contention, the workers' own function (`mutations.judge` over
   chunks) on 20,000 of the pairs in this process.

Targets (issue 15): load <= 1.5x the floor, whole and marginal (aim 1.0x); peak RSS <= 1.5 GiB at 1,000,000
reports; (issue 3) re-load <= 10% of the load, check >= 2,000 pairs/s per core and a rerun in seconds. The
tree is deleted at the end unless --keep (deleting a million files takes about two minutes).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from floors import read_tree
from simulator.generator import generate

QUERIES_PER_TASK = 500
GIB = 1024 ** 3

CHILD = r"""
import json, resource, sys, time
mode, target, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
began = time.perf_counter()
if mode == "load":
    from ingest.loader import load
    report = load(sys.argv[4], target, jobs=workers, quiet=True)
    extra = {"files_seen": report.files_seen, "files_loaded": report.files_loaded,
             "files_unchanged": report.files_unchanged, "reconciliation": report.reconciliation}
else:
    from ingest.verdicts import check_pairs
    report = check_pairs(target, jobs=workers, quiet=True)
    extra = {"pairs": report.pairs, "total_verdicts": report.total_verdicts}
seconds = time.perf_counter() - began
own = resource.getrusage(resource.RUSAGE_SELF)
children = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": seconds, "self_rss_kib": own.ru_maxrss, "child_rss_kib": children.ru_maxrss,
                  "cpu_s": own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime, **extra}))
"""


def calibrate(parent: Path, dbms: tuple[str, ...], runs: int) -> float:
    """Report files per query with these settings, measured on a small tree."""
    root = Path(tempfile.mkdtemp(prefix="pinoloft-calib-", dir=parent))
    try:
        summary = generate(root, dbms=dbms, runs=runs, tasks=4, queries=300, seed=424242, quiet=True)
        return summary.report_files / summary.queries
    finally:
        shutil.rmtree(root, ignore_errors=True)


def generate_tree(root: Path, parent: Path, files: int, dbms: tuple[str, ...], runs: int) -> int:
    """Generate a tree of at least `files` report files (more tasks and again while short); returns them."""
    per_query = calibrate(parent, dbms, runs)
    pools = len(dbms) * runs
    tasks = max(1, math.ceil(files / per_query * 1.06 / QUERIES_PER_TASK / pools))
    while True:
        start = time.perf_counter()
        summary = generate(root, dbms=dbms, runs=runs, tasks=tasks, queries=QUERIES_PER_TASK, seed=20261124)
        print(f"generated: {summary.report_files} report files = {summary.report_files // 2} reports ({pools} "
              f"pool(s) x {tasks} tasks x {QUERIES_PER_TASK} queries) in {time.perf_counter() - start:.0f}s",
              flush=True)
        if summary.report_files >= files:
            return summary.report_files
        tasks = math.ceil(tasks * files / max(1, summary.report_files) * 1.02)


def empty_tree(parent: Path) -> Path:
    """The smallest tree ingest accepts: one pool holding one empty task folder."""
    root = parent / "empty"
    (root / "mysql" / "task-0").mkdir(parents=True)
    return root


def child(mode: str, target: Path, workers: int, root: Path | None = None) -> dict:
    """Run one step in a fresh process; returns its figures plus the wall time seen from here."""
    args = [sys.executable, "-c", CHILD, mode, str(target), str(workers)] + ([str(root)] if root else [])
    start = time.perf_counter()
    result = subprocess.run(args, cwd=REPO, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if result.returncode:
        raise SystemExit(f"{mode} failed:\n{result.stderr}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["wall"] = wall
    figures["peak_bound_bytes"] = (figures["self_rss_kib"] + workers * figures["child_rss_kib"]) * 1024
    return figures


def judge_sample(warehouse: Path, count: int) -> tuple[int, float]:
    """Time the check workers' function on `count` pairs in this process (pairs in check's order)."""
    import duckdb

    from ingest.verdicts import _judge_chunk

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute("SELECT pair_hash, strategy, original_sql, mutated_sql FROM raw.mutation_verdicts "
                           "ORDER BY original_sql, strategy, mutated_sql LIMIT ?", [count]).fetchall()
    finally:
        con.close()
    start = time.perf_counter()
    for index in range(0, len(rows), 256):
        _judge_chunk(rows[index:index + 256])
    return len(rows), time.perf_counter() - start


def mib(kib_or_bytes: float, kib: bool = True) -> str:
    value = kib_or_bytes * 1024 if kib else kib_or_bytes
    return f"{value / 1024 ** 2:.0f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--files", type=int, default=None, help="minimum report files to generate (default 1,000,000)")
    size.add_argument("--reports", type=int, default=None,
                      help="minimum bug reports to generate (a .json and its .log each)")
    parser.add_argument("--dbms", nargs="+", default=["mysql"], help="DBMS pools per run (default: one, mysql)")
    parser.add_argument("--runs", type=int, default=1, help="runs (output<N> folders) of the pools (default 1)")
    parser.add_argument("--dir", default=None, help="parent folder of the temporary tree and warehouse")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="ingest worker processes")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="check worker processes")
    parser.add_argument("--tree", default=None, help="reuse this generated tree instead of generating one")
    parser.add_argument("--keep", action="store_true", help="keep the tree and the warehouse")
    parser.add_argument("--skip-check", action="store_true", help="leave out the check step")
    args = parser.parse_args(argv)

    parent = Path(args.dir or tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="pinoloft-bench-ingest-", dir=parent))
    root = Path(args.tree) if args.tree else work / "pinolo"
    warehouse = work / "warehouse.duckdb"
    try:
        if args.tree is None:
            wanted = 2 * args.reports if args.reports is not None else args.files or 1_000_000
            generate_tree(root, parent, wanted, tuple(args.dbms), args.runs)
        floor_cpu = []  # CPU seconds of each floor pass: an indication that a busy machine does not distort
        clock = time.process_time()
        cold, files, size = read_tree(root)
        floor_cpu.append(time.process_time() - clock)
        print(f"tree:              {files} files, {size / 1e9:.2f} GB under {root}", flush=True)
        print(f"baseline (pass 1): {cold:.1f}s  (walk + read bytes, {files / cold:.0f} files/s)", flush=True)
        clock = time.process_time()
        before, _, _ = read_tree(root)
        floor_cpu.append(time.process_time() - clock)
        print(f"baseline (pass 2): {before:.1f}s  ({files / before:.0f} files/s)", flush=True)

        fixed = child("load", work / "empty.duckdb", args.workers, empty_tree(work))
        print(f"empty-tree load:   {fixed['wall']:.2f}s wall (the fixed cost: start, imports, workers, schema, "
              "commit)", flush=True)
        first = child("load", warehouse, args.workers, root)
        print(f"load:              {first['wall']:.1f}s wall ({first['seconds']:.1f}s inside load(), "
              f"{first['cpu_s']:.1f}s CPU, {args.workers} workers); {first['reconciliation']}", flush=True)
        marginal = first["wall"] - fixed["wall"]
        print(f"load, marginal:    {marginal:.1f}s (load wall - empty-tree load wall)", flush=True)
        again = child("load", warehouse, args.workers, root)
        clock = time.process_time()
        after, _, _ = read_tree(root)
        floor_cpu.append(time.process_time() - clock)
        base = min(cold, before, after)
        mean = (cold + before + after) / 3
        print(f"baseline (pass 3): {after:.1f}s; fastest {base:.1f}s, mean {mean:.1f}s", flush=True)
        print(f"re-load:           {again['wall']:.2f}s wall ({again['seconds']:.2f}s inside load()); "
              f"{again['reconciliation']}", flush=True)
        print(f"warehouse:         {os.path.getsize(warehouse) / 1e6:.0f} MB", flush=True)
        ratio = first["wall"] / base
        marginal_ratio = marginal / base
        reratio = again["wall"] / first["wall"]
        peak = first["peak_bound_bytes"]
        print(f"ratio load/baseline:      {ratio:.2f}x the fastest pass (target <= 1.5x: "
              f"{'met' if ratio <= 1.5 else 'MISSED'}); {first['wall'] / mean:.2f}x the mean")
        print(f"ratio marginal/baseline:  {marginal_ratio:.2f}x the fastest pass (target <= 1.5x: "
              f"{'met' if marginal_ratio <= 1.5 else 'MISSED'}); {marginal / mean:.2f}x the mean")
        cores = min(args.workers, os.cpu_count() or 1)
        cpu_marginal = first["cpu_s"] - fixed["cpu_s"]
        print(f"CPU (indication):         load {first['cpu_s']:.1f}s, empty-tree load {fixed['cpu_s']:.1f}s, floor "
              f"{min(floor_cpu):.2f}s (fastest pass); marginal CPU / {cores} cores = "
              f"{cpu_marginal / cores / min(floor_cpu):.2f}x the floor's CPU (what the marginal ratio would be "
              "with the cores all ingest's and busy throughout)")
        print(f"peak RSS (load):          main {mib(first['self_rss_kib'])}, largest worker "
              f"{mib(first['child_rss_kib'])}, bound main + {args.workers} x worker = {mib(peak, kib=False)} "
              f"(target <= 1536 MiB: {'met' if peak <= 1.5 * GIB else 'MISSED'})")
        print(f"ratio re-load/load:       {reratio:.1%}  (target <= 10%: {'met' if reratio <= 0.10 else 'MISSED'})",
              flush=True)
        if not args.skip_check:
            judged = child("check", warehouse, args.jobs)
            rate = judged["pairs"] / judged["seconds"] if judged["seconds"] else 0.0
            per_core = rate / args.jobs
            print(f"check:             {judged['pairs']} pairs in {judged['seconds']:.1f}s = {rate:.0f} pairs/s on "
                  f"{args.jobs} processes = {per_core:.0f} pairs/s per core (target >= 2000: "
                  f"{'met' if per_core >= 2000 else 'MISSED'}); peak RSS bound "
                  f"{mib(judged['peak_bound_bytes'], kib=False)}", flush=True)
            rerun = child("check", warehouse, args.jobs)
            print(f"check rerun:       {rerun['pairs']} new pairs, {rerun['wall']:.1f}s wall "
                  f"({rerun['seconds']:.1f}s inside check_pairs())", flush=True)
            sample, seconds = judge_sample(warehouse, 20_000)
            print(f"judge, 1 process:  {sample} pairs in {seconds:.1f}s = {sample / seconds:.0f} pairs/s (the workers' "
                  "function, no other process running)", flush=True)
        return 0
    finally:
        if args.keep:
            print(f"kept: {work}" + ("" if args.tree else f" (tree: {root})"))
        else:
            start = time.perf_counter()
            shutil.rmtree(work, ignore_errors=True)
            print(f"deleted {work} in {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    sys.exit(main())
