"""Benchmark: write >= 1,000,000 PINOLO report files with `simulator.generator`, against a plain-write baseline.

    python bench/generate.py [--files N] [--dir PARENT] [--workers W] [--keep]

Prints the report files written, seconds, files/s, and the ratio of the generator's time to a baseline
measured in the same process: writing the same number of fixed small files (same per-directory fan-out)
with plain open/write and no generation. The ratio says how much of the cost is generation rather than the
filesystem, which varies a lot between machines (and, on ext4, with recent create/delete churn). Both trees
are deleted at the end unless --keep. The target is 1,000,000 files in at most 300 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.generator import generate  # noqa: E402

TARGET_SECONDS = 300.0
QUERIES_PER_TASK = 500
BASELINE_PAYLOAD = b"x" * 2048  # a small report file; real ones are 1-5 KB
FILES_PER_DIR = 1000


def calibrate(parent: Path, workers: int | None) -> float:
    """Report files per query for the default settings, measured on a small tree."""
    root = Path(tempfile.mkdtemp(prefix="pinoloft-calib-", dir=parent))
    try:
        summary = generate(root, tasks=4, queries=300, seed=424242, quiet=True, workers=workers)
        return summary.report_files / summary.queries
    finally:
        shutil.rmtree(root, ignore_errors=True)


def baseline(root: Path, files: int) -> float:
    """Seconds to write `files` fixed files with plain open/write, FILES_PER_DIR per directory."""
    start = time.perf_counter()
    directory = root
    for i in range(files):
        if i % FILES_PER_DIR == 0:
            directory = root / f"d{i // FILES_PER_DIR}"
            directory.mkdir(parents=True)
        with open(directory / f"bug-{i}-{i}-FixMDistinctL.json", "wb") as fh:
            fh.write(BASELINE_PAYLOAD)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1_000_000, help="minimum report files to write")
    parser.add_argument("--dir", default=None, help="parent directory for the temporary trees (default: system temp)")
    parser.add_argument("--workers", type=int, default=None, help="generator worker processes (default: CPU count)")
    parser.add_argument("--keep", action="store_true", help="keep both trees and print where they are")
    args = parser.parse_args(argv)

    parent = Path(args.dir or tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    per_query = calibrate(parent, args.workers)
    queries_needed = math.ceil(args.files / per_query * 1.06)
    tasks = math.ceil(queries_needed / QUERIES_PER_TASK)
    work = Path(tempfile.mkdtemp(prefix="pinoloft-bench-", dir=parent))
    gen_root, base_root = work / "generated", work / "baseline"
    print(f"calibration: {per_query:.2f} report files/query -> {tasks} tasks x {QUERIES_PER_TASK} queries; "
          f"trees under {work}", flush=True)
    try:
        start = time.perf_counter()
        summary = generate(gen_root, tasks=tasks, queries=QUERIES_PER_TASK, seed=20261124, workers=args.workers)
        gen_seconds = time.perf_counter() - start
        files = summary.report_files
        base_seconds = baseline(base_root, files)
        print(summary.describe())
        print(f"files:            {files}")
        print(f"seconds:          {gen_seconds:.1f}")
        print(f"files/s:          {files / gen_seconds:.0f}")
        print(f"baseline seconds: {base_seconds:.1f} ({files / base_seconds:.0f} files/s, plain open/write of "
              f"{len(BASELINE_PAYLOAD)}-byte files)")
        print(f"ratio:            {gen_seconds / base_seconds:.2f}x the baseline time")
        verdict = "met" if files >= args.files and gen_seconds <= TARGET_SECONDS * files / 1_000_000 else "MISSED"
        print(f"target ({TARGET_SECONDS:.0f} s per 1,000,000 files): {verdict}")
        if files < args.files:
            print(f"warning: wrote {files} files, fewer than the {args.files} asked for", file=sys.stderr)
        return 0
    finally:
        if args.keep:
            print(f"kept: {work}")
        else:
            start = time.perf_counter()
            shutil.rmtree(work, ignore_errors=True)
            print(f"deleted both trees in {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    sys.exit(main())
