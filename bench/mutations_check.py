"""Benchmark: how many (original, mutated, strategy) pairs per second the judge (`mutations.check`) judges.

Two workloads of PINOLO-sized (600–2,000 characters) impo.yy-shaped originals from the simulator's
`QueryGenerator`:

* **real-shaped** (`--real-pairs`, default 20,000 distinct pairs): shaped like a PINOLO tree's bugs/ reports.
  The simulator's own `_pick_bugs` picks which candidates of each original become bug reports (the default
  strategy mix, tasks of 100 queries), so several pairs share an original (about 2.2 pairs per original that
  has any; the figure is printed) and they arrive grouped by original, as `mutations pairs` and the
  warehouse's check stage deliver them. The simulator's judge-visible faults are injected at
  `--faults` (default 0.05) of the reports: a fault kind is drawn from `FAULT_KINDS`; `unknown_mutation`,
  `non_select_drop` and `non_select_multi` change the pair as the simulator does (non-conforming pairs),
  the other kinds damage files that ingest quarantines, so that report is dropped.
* **worst case** (`--pairs`, default 6,000): one pair per distinct original at a random candidate, so the
  analysis of an original is never shared.

Printed figures, per workload, all in this one process:

* floor: read the JSONL file, `json.loads` each line, tokenize both texts with ONE compiled regex
  (`re.findall`) and compare the two token lists: the least any token-stream judge does;
* `check_jsonl(..., jobs=1)` on the same file (JSON in and out included), and its ratio to the floor;
* check, one process, texts in memory, cold cache (the older figure, against `tokenize` both + compare);
* for the real-shaped file, `python -m mutations check --jobs 1` end to end as a subprocess (wall time, so it
  includes the interpreter's start);
* `target 0.50x: met/MISSED` for the real-shaped `check_jsonl` ratio.

Usage: python bench/mutations_check.py [--real-pairs N] [--pairs N] [--jobs J] [--faults SHARE]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mutations import apply_candidate, candidates, check  # noqa: E402
from mutations.batch import check_jsonl  # noqa: E402
from mutations.engine import analyse  # noqa: E402
from mutations.errors import SqlSyntaxError  # noqa: E402
from mutations.tokens import tokenize  # noqa: E402
from simulator.generator import DEFAULT_MIX, FAULT_KINDS, FOREIGN_NAMES, _pick_bugs  # noqa: E402
from simulator.querygen import QueryGenerator  # noqa: E402
from floors import TOKEN_RE  # noqa: E402

TARGET_RATIO = 0.5
TASK_QUERIES = 100  # the simulator's default task size: `_pick_bugs`'s availability counts restart per task


def build_pairs(count: int, seed: int) -> list[tuple[str, str, str]]:
    """The worst case: one pair per distinct original, at a random candidate."""
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


def build_real_shaped_pairs(count: int, seed: int, faults: float = 0.05) -> tuple[list[tuple[str, str, str]], int]:
    """(distinct pairs grouped by original, number of originals): see the module docstring."""
    rng = random.Random(f"pinoloft-task:{seed}")
    fault_rng = random.Random(f"pinoloft-faults:{seed}")
    pairs: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str, str]] = set()
    originals = 0
    task = 0
    while len(pairs) < count:
        generator = QueryGenerator(seed + task)
        present: Counter[str] = Counter()
        achieved: Counter[str] = Counter()
        for sql_id in range(TASK_QUERIES):
            sql = generator.query()
            try:
                cands = candidates(sql)
            except SqlSyntaxError:
                continue
            present.update({cand.strategy for cand in cands})
            chosen = _pick_bugs(rng, cands, DEFAULT_MIX, present, sql_id + 1, achieved)
            if not 600 <= len(sql) <= 2000:
                continue
            used = False
            for cand in chosen:
                achieved[cand.strategy] += 1
                strategy, original = cand.strategy, sql
                mutated = apply_candidate(sql, cand, seed + task + sql_id).sql
                if fault_rng.random() < faults:
                    kind = fault_rng.choice(FAULT_KINDS)
                    if kind == "unknown_mutation":
                        strategy = fault_rng.choice(FOREIGN_NAMES)
                    elif kind == "non_select_drop":
                        mutated = "DROP TABLE `table_7_utf8_undef`"
                    elif kind == "non_select_multi":
                        original = original + "; DROP TABLE `table_3_utf8_undef`"
                    else:
                        continue  # a damaged file ingest quarantines: the pair never reaches the judge
                pair = (original, mutated, strategy)
                if pair in seen:
                    continue
                seen.add(pair)
                pairs.append(pair)
                used = True
                if len(pairs) == count:
                    break
            originals += used
            if len(pairs) == count:
                break
        task += 1
    return pairs, originals


def write_jsonl(path: Path, pairs: list[tuple[str, str, str]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for original, mutated, strategy in pairs:
            handle.write(json.dumps({"strategy": strategy, "original": original, "mutated": mutated},
                                    ensure_ascii=False) + "\n")


def floor_pass(path: Path) -> int:
    """The floor: read the JSONL, json.loads each line, tokenize both texts with one regex, compare."""
    findall = TOKEN_RE.findall
    loads = json.loads
    same = 0
    with path.open("rb") as handle:
        for line in handle:
            record = loads(line)
            same += findall(record["original"]) == findall(record["mutated"])
    return same


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds else float("inf")


def timed(function, *args) -> tuple[object, float]:  # type: ignore[no-untyped-def]
    """(result, process CPU seconds): CPU time, because the machine may be shared."""
    started = time.process_time()
    result = function(*args)
    return result, time.process_time() - started


def jsonl_figures(label: str, path: Path, count: int) -> float:
    """Print the floor and check_jsonl(jobs=1) on one file; return the ratio."""
    _, floor_seconds = timed(floor_pass, path)
    floor = rate(count, floor_seconds)
    analyse.cache_clear()

    def run_check() -> object:
        with path.open("rb") as source:
            return check_jsonl(source, io.StringIO(), jobs=1, quiet=True)

    summary, check_seconds = timed(run_check)
    assert summary.total == count  # type: ignore[attr-defined]
    single = rate(count, check_seconds)
    ratio = single / floor
    print(f"[{label}] floor (JSONL read + json.loads + one regex findall both + compare): {floor:,.0f} pairs/s")
    print(f"[{label}] check_jsonl, jobs=1:                                       {single:,.0f} pairs/s  "
          f"(ratio to floor {ratio:.2f}x)")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real-pairs", type=int, default=20000)
    parser.add_argument("--pairs", type=int, default=6000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--faults", type=float, default=0.05)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; times are process CPU seconds except the subprocess (wall)")

    with tempfile.TemporaryDirectory() as folder:
        # -- real-shaped ----------------------------------------------------------------------------------
        real, originals = build_real_shaped_pairs(args.real_pairs, args.seed, args.faults)
        mean_length = sum(len(original) for original, _, _ in real) / len(real)
        print(f"real-shaped: {len(real)} distinct pairs over {originals} originals "
              f"({len(real) / originals:.2f} pairs per original), mean original {mean_length:.0f} chars, "
              f"faults {args.faults:.0%} of reports")
        real_path = Path(folder) / "real.jsonl"
        write_jsonl(real_path, real)
        real_ratio = jsonl_figures("real-shaped", real_path, len(real))
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "mutations", "--quiet", "check", "--input", str(real_path),
                                 "--output", os.devnull, "--jobs", "1"], cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - started
        assert result.returncode == 0, result.stderr
        print(f"[real-shaped] python -m mutations check --jobs 1 (subprocess, wall): {wall:.2f} s = "
              f"{rate(len(real), wall):,.0f} pairs/s")

        # -- worst case -----------------------------------------------------------------------------------
        pairs = build_pairs(args.pairs, args.seed)
        mean_length = sum(len(original) for original, _, _ in pairs) / len(pairs)
        print(f"worst case: {len(pairs)} pairs, one per distinct original, mean length {mean_length:.0f} chars")
        worst_path = Path(folder) / "worst.jsonl"
        write_jsonl(worst_path, pairs)
        jsonl_figures("worst case", worst_path, len(pairs))

        # The older figures: texts in memory, against the package's own tokenizer.
        started = time.process_time()
        for original, mutated, _ in pairs:
            _ = tokenize(original).keys == tokenize(mutated).keys
        baseline = rate(len(pairs), time.process_time() - started)
        print(f"[worst case] baseline (tokenize both + compare, in memory): {baseline:,.0f} pairs/s")
        analyse.cache_clear()
        started = time.process_time()
        conforming = sum(check(original, mutated, strategy).conforms for original, mutated, strategy in pairs)
        single = rate(len(pairs), time.process_time() - started)
        assert conforming == len(pairs), f"{len(pairs) - conforming} engine pairs judged non-conforming"
        print(f"[worst case] check, 1 process, cold cache: {single:,.0f} checks/s  "
              f"(ratio to baseline {single / baseline:.2f})")
        analyse.cache_clear()
        sink = io.StringIO()
        started = time.perf_counter()
        with worst_path.open("rb") as source:
            summary = check_jsonl(source, sink, jobs=args.jobs, quiet=True)
        parallel = rate(summary.total, time.perf_counter() - started)
        assert sum(summary.conforming.values()) == len(pairs)
        print(f"[worst case] check JSONL, {args.jobs} processes (wall): {parallel:,.0f} checks/s")

    print(f"target {TARGET_RATIO:.2f}x (real-shaped check_jsonl, jobs=1, to its floor): "
          f"{'met' if real_ratio >= TARGET_RATIO else 'MISSED'} ({real_ratio:.2f}x)")


if __name__ == "__main__":
    main()
