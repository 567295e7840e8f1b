"""Benchmark: what the statement guard costs per statement, and that its time grows linearly with the text.

Workload: PINOLO-sized (600–2,000 characters) generated queries, the shape `bench/validation.py` sends: each
an original from `simulator.querygen.QueryGenerator` (all strategies) and one engine mutation of it. Printed:

* µs per statement and per KB for `validation.guard.statement_refusal`, best of `--rounds`;
* the floor: two `str.find` scans over the same texts (the least any reading of every character costs),
  and the guard's ratio to it;
* how many statements the fast path could not decide (handed to the token-level check);
* the hostile inputs of issue 11 (an unterminated string made of `'\\` pairs, `/*x` repeated) at growing
  sizes: µs per KB should stay flat (linear time), where a quadratic reading grows with the size.

To measure another checkout's guard, put it first on the path: `PYTHONPATH=/work/baseline python bench/guard.py`.
Usage: python bench/guard.py [--statements N] [--rounds R] [--hostile-sizes 10000,20000,40000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.pop(0)  # this folder: its validation.py would shadow the package
if not any(Path(entry, "validation", "guard.py").exists() for entry in sys.path if entry):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mutations import apply_candidate, candidates  # noqa: E402
from simulator.querygen import QueryGenerator  # noqa: E402
from validation import guard  # noqa: E402


def workload(count: int, seed: int) -> list[str]:
    """Originals and mutations, 600–2,000 characters, all distinct (as bench/validation.py builds them)."""
    generator = QueryGenerator(seed, all_strategies=True)
    rng = random.Random(seed)
    statements: list[str] = []
    seen: set[str] = set()
    while len(statements) < count:
        sql = generator.query()
        if not 600 <= len(sql) <= 2000 or sql in seen:
            continue
        points = candidates(sql)
        if not points:
            continue
        mutated = apply_candidate(sql, rng.choice(points), seed).sql
        if mutated in seen or mutated == sql:
            continue
        seen.update((sql, mutated))
        statements += [sql, mutated]
    return statements


def timed(function, statements: list[str], rounds: int) -> float:
    """Best seconds of `rounds` passes of `function` over `statements`."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for sql in statements:
            function(sql)
        best = min(best, time.perf_counter() - started)
    return best


def floor_scan(sql: str) -> None:
    sql.find("\x00")
    sql.find("\x01")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--statements", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--hostile-sizes", default="10000,20000,40000",
                        help="repeat counts for the hostile inputs ('' to skip them)")
    args = parser.parse_args()

    statements = workload(args.statements, args.seed)
    kilobytes = sum(len(sql) for sql in statements) / 1000
    refused = [sql for sql in statements if guard.statement_refusal(sql) is not None]
    exact_calls = 0
    exact = guard._exact_refusal

    def counting(sql: str):
        nonlocal exact_calls
        exact_calls += 1
        return exact(sql)

    guard._exact_refusal = counting
    for sql in statements:
        guard.statement_refusal(sql)
    guard._exact_refusal = exact

    seconds = timed(guard.statement_refusal, statements, args.rounds)
    floor = timed(floor_scan, statements, args.rounds)
    print(f"guard module: {guard.__file__}")
    print(f"workload: {len(statements)} statements, mean {kilobytes * 1000 / len(statements):.0f} chars, "
          f"{len(refused)} refused, {exact_calls} decided by the exact check")
    print(f"guard: {seconds / len(statements) * 1e6:.2f} µs/statement, {seconds / kilobytes * 1e6:.2f} µs/KB")
    print(f"floor (2 str.find scans): {floor / kilobytes * 1e6:.3f} µs/KB; guard = {seconds / floor:.0f}x the floor")

    sizes = [int(size) for size in args.hostile_sizes.split(",") if size]
    for name, build in (("unterminated '\\\\ pairs", lambda n: "SELECT 1 " + "'\\" * n),
                        ("/*x repeated", lambda n: "/*x" * n)):
        for size in sizes:
            text = build(size)
            started = time.perf_counter()
            reason = guard.statement_refusal(text)
            elapsed = time.perf_counter() - started
            started = time.perf_counter()
            floor_scan(text)
            floor_elapsed = time.perf_counter() - started
            print(f"hostile {name} x{size} ({len(text)} chars): {elapsed * 1e3:.2f} ms = "
                  f"{elapsed / len(text) * 1e9:.1f} µs/KB ({elapsed / max(floor_elapsed, 1e-9):.0f}x the floor): {reason}")


if __name__ == "__main__":
    main()
