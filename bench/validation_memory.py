"""Benchmark: the peak memory of `validate` when a pair asks for 100,000,000 rows.

Workload: one pair on the §9.3 database of a throwaway MariaDB (a fresh folder, started and stopped here)
whose original and mutated query each cross-join eight 10-row derived tables with an explicit
`LIMIT 100000000`, which overrides the session's `sql_select_limit`: the original with rows of about 1 KB
(the byte cap stops it), the mutated with rows of a few bytes (the row cap stops it). `validate` runs with
the default settings (3 repeats, 10 s limit, row cap 100,000, byte cap 64 MiB) in a child process, whose
peak RSS (VmHWM) is printed next to the floor: the same child validating a one-row pair.

Target: under 1 GiB. Before rows were streamed, the client buffered every row until the time limit fired
(1.4 GB in 5 s on this machine, 3.5 GB reported on a faster one).

Usage: python bench/validation_memory.py
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from validation import RunSettings, Scope, ThrowawayServer, validate  # noqa: E402

TEN = " UNION ALL ".join(f"SELECT {digit}{' d' if digit == 0 else ''}" for digit in range(10))
CROSS_JOIN = " FROM " + ", ".join(f"({TEN}) t{i}" for i in range(8)) + " LIMIT 100000000"
SUM = " + ".join(f"t{i}.d" for i in range(8))
WIDE = f"SELECT REPEAT('x', 1000), {SUM}{CROSS_JOIN}"
NARROW = f"SELECT {SUM}{CROSS_JOIN}"
GIB = 1 << 30


def _bench_warehouse():
    """`bench_warehouse` of bench/validation.py (a file that cannot be imported by name: `validation` is
    the package)."""
    spec = importlib.util.spec_from_file_location("bench_validation", Path(__file__).with_name("validation.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.bench_warehouse


def _validate_in_child(arguments) -> tuple[int, str, float]:
    """(peak RSS in bytes, the run's report, seconds) of one validate in this fresh child."""
    warehouse, reader, admin = arguments
    started = time.perf_counter()
    report = validate(warehouse, Scope(all_pairs=True), RunSettings(fresh=True), reader, admin, quiet=True)
    seconds = time.perf_counter() - started
    with open("/proc/self/status") as status:
        peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    return peak_kib * 1024, report.describe(), seconds


def peak_rss(context, warehouse: Path, reader, admin) -> tuple[int, str, float]:
    with context.Pool(1, maxtasksperchild=1) as pool:
        return pool.apply(_validate_in_child, ((warehouse, reader, admin),))


def main() -> None:
    bench_warehouse = _bench_warehouse()
    context = multiprocessing.get_context("fork")
    with tempfile.TemporaryDirectory(prefix="pinoloft-bench-memory-") as work:
        work = Path(work)
        server = ThrowawayServer(work / "mariadb")
        server.start()
        try:
            reader, admin = server.reader(), server.admin()
            floor_warehouse, capped_warehouse = work / "floor.duckdb", work / "capped.duckdb"
            bench_warehouse(floor_warehouse, [("SELECT 1", "SELECT 1 + 0", "bench", True)])
            bench_warehouse(capped_warehouse, [(WIDE, NARROW, "bench", True)])
            print(f"{os.cpu_count()} cores, server {server.running()['pid']}")
            floor, _, _ = peak_rss(context, floor_warehouse, reader, admin)
            capped, report, seconds = peak_rss(context, capped_warehouse, reader, admin)
        finally:
            server.stop()
    print(report)
    print(f"validate on a one-row pair (the floor):            peak RSS {floor / 2**20:,.0f} MiB")
    print(f"validate on a 100-million-row pair ({seconds:.1f} s):       peak RSS {capped / 2**20:,.0f} MiB "
          f"= {capped / floor:.2f}x the floor, +{(capped - floor) / 2**20:,.0f} MiB (target < 1 GiB: "
          f"{'met' if capped < GIB else 'MISSED'})")


if __name__ == "__main__":
    main()
