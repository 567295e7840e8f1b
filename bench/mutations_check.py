"""Benchmark: how many (original, mutated, strategy) checks per second `mutations.check` judges.

Pairs are PINOLO-sized (600–2,000 characters) impo.yy-shaped queries from the generator, one pair per
distinct original, so the parse cache never helps. Printed figures:

* baseline: tokenizing both texts and comparing the token lists, the least any token-stream judge does;
* check, one process, cold cache (every original parsed once), and its ratio to the baseline;
* `python -m mutations check` end to end on a JSONL file with all cores (JSON in and out included).

Usage: python bench/mutations_check.py [--pairs N] [--jobs J]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mutations import apply_candidate, candidates, check  # noqa: E402
from mutations.batch import check_jsonl  # noqa: E402
from mutations.engine import analyse  # noqa: E402
from mutations.tokens import tokenize  # noqa: E402
from simulator.querygen import QueryGenerator  # noqa: E402


def build_pairs(count: int, seed: int) -> list[tuple[str, str, str]]:
    generator = QueryGenerator(seed)
    rng = random.Random(seed)
    pairs: list[tuple[str, str, str]] = []
    while len(pairs) < count:
        sql = generator.query()
        if not 600 <= len(sql) <= 2000:
            continue
        points = candidates(sql)
        if not points:
            continue
        point = rng.choice(points)
        pairs.append((sql, apply_candidate(sql, point, seed).sql, point.strategy))
    return pairs


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds else float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=6000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    pairs = build_pairs(args.pairs, args.seed)
    mean_length = sum(len(original) for original, _, _ in pairs) / len(pairs)
    print(f"pairs: {len(pairs)} distinct originals, mean length {mean_length:.0f} chars, {os.cpu_count()} cores")

    started = time.perf_counter()
    for original, mutated, _ in pairs:
        _ = tokenize(original).keys == tokenize(mutated).keys
    baseline = rate(len(pairs), time.perf_counter() - started)
    print(f"baseline (tokenize both + compare): {baseline:,.0f} pairs/s")

    analyse.cache_clear()
    started = time.perf_counter()
    conforming = sum(check(original, mutated, strategy).conforms for original, mutated, strategy in pairs)
    single = rate(len(pairs), time.perf_counter() - started)
    assert conforming == len(pairs), f"{len(pairs) - conforming} engine pairs judged non-conforming"
    print(f"check, 1 process, cold cache:       {single:,.0f} checks/s  (ratio to baseline {single / baseline:.2f})")

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pairs.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            for original, mutated, strategy in pairs:
                handle.write(json.dumps({"strategy": strategy, "original": original, "mutated": mutated}) + "\n")
        analyse.cache_clear()
        sink = io.StringIO()
        started = time.perf_counter()
        with path.open("rb") as source:
            summary = check_jsonl(source, sink, jobs=args.jobs, quiet=True)
        parallel = rate(summary.total, time.perf_counter() - started)
    assert sum(summary.conforming.values()) == len(pairs)
    print(f"check JSONL, {args.jobs} processes:          {parallel:,.0f} checks/s  (ratio to baseline {parallel / baseline:.2f})")
    target = 2000
    print(f"target {target:,} checks/s: {'met' if parallel >= target else 'NOT met'}")


if __name__ == "__main__":
    main()
