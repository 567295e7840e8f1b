"""Benchmark: `export` + `check` of 100,000 dataset examples, against a plain JSON-dump baseline.

Builds a DuckDB warehouse whose `marts.dataset_examples` (docs/warehouse.md) holds N examples with
PINOLO-shaped SQL of about 1 KB on each side (user = original, assistant = mutated) and the real system
prompt shape (role prompt + a ~300-character illustration), split 80/10/10. Then, in one process:

* baseline: read the same rows from DuckDB and `json.dumps` each chat example to a file, no token
  counting: the least any exporter does;
* export: `exporters.export_dataset` (JSONL + sidecars + the checked report; tokens counted once);
* check: `exporters.check_file` on the three written files (parse again, count tokens again);

and prints the seconds, the ratios to the baseline, and whether export + check meets the 30 s target.

Usage: python bench/export.py [--examples N] [--jobs T] [--seed S] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exporters import check_file, export_dataset
from floors import dump_chat_examples
from exporters.tokens import default_threads
from pinoloft_base.cli import jobs_option

TARGET_SECONDS = 30.0
DBMS_NAMES = {"mysql": "MySQL", "mariadb": "MariaDB", "tidb": "TiDB", "oceanbase": "OceanBase"}
STRATEGIES = ["FixMDistinctU", "FixMDistinctL", "FixMCmpOpU", "FixMCmpOpL", "FixMUnionAllU", "FixMUnionAllL",
              "FixMInNullU", "FixMWhere1U", "FixMWhere0L", "FixMHaving1U", "FixMHaving0L", "FixMOn1U", "FixMOn0L",
              "FixMRmUnionAllL", "RdMLikeU", "RdMLikeL", "RdMRegExpU", "RdMRegExpL"]
FUNCTIONS = ["ROUND", "RIGHT", "LENGTH", "OCTET_LENGTH", "ASIN", "LOG10", "ORD", "RADIANS", "TO_DAYS", "WEEKDAY",
             "PERIOD_ADD", "SUBSTRING_INDEX", "RTRIM", "YEARWEEK", "ATAN", "FROM_UNIXTIME", "MID", "FORMAT", "SQRT"]
COLUMNS = ["col_bigint_key_signed", "col_double_undef_unsigned", "col_varchar(20)_key_signed",
           "col_decimal(40, 20)_key_signed", "col_float_undef_signed", "col_char(20)_undef_signed"]
WORDS = ["at", "y", "2012", "with", "your", "k", "m", "01:54:35", "2008-09-25 11:54:27", "g", "that", "2000-03-03"]
OPERATORS = ["<", ">", "=", ">=", "<=", "!=", "|", "^", "+", "-", "%", "<<", ">>", "AND", "OR"]


def literal(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.4:
        return f"_UTF8MB4'{rng.choice(WORDS)}'"
    if kind < 0.7:
        return str(rng.randint(-9, 99))
    return repr(rng.uniform(-1, 1))


def expression(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth > 2 or roll < 0.3:
        return f"`f{rng.randint(1, 15)}`" if rng.random() < 0.5 else literal(rng)
    if roll < 0.65:
        arguments = ", ".join(expression(rng, depth + 1) for _ in range(rng.randint(1, 3)))
        return f"{rng.choice(FUNCTIONS)}({arguments})"
    return f"({expression(rng, depth + 1)}){rng.choice(OPERATORS)}({expression(rng, depth + 1)})"


def query(rng: random.Random, target: int) -> str:
    select = ",".join(f"({expression(rng)}) AS `f{i}`" for i in range(1, rng.randint(3, 5)))
    inner = ",".join(f"`{rng.choice(COLUMNS)}` AS `f{i}`" for i in range(6, 9))
    sql = (f"SELECT {select} FROM (SELECT {inner} FROM `table_{rng.randint(1, 9)}_utf8_undef`) AS `t1` "
           f"WHERE ({expression(rng)})>({expression(rng)})")
    while len(sql) < target:
        sql += f" AND ({expression(rng)}){rng.choice(OPERATORS[:6])}({expression(rng)})"
    return sql if len(sql) <= target + 150 else query(rng, target)


def build_rows(count: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    illustrations = {s: (f"Mutate the seed sql given by user into the mutated sql according to the mutate strategy "
                         f"\"{s}\":\"{rng.choice(WORDS)} -> {rng.choice(WORDS)}\".This mutate strategy will change "
                         "the condition of the clause in SELECT statement, keeping everything else. ")
                     for s in STRATEGIES}
    columns: dict[str, list] = {name: [] for name in (
        "dataset_name", "example_id", "split", "position", "dbms", "strategy", "is_upper", "system_prompt",
        "user_content", "assistant_content", "pair_id", "original_fingerprint", "run", "task", "bug_id", "sql_id",
        "relative_path", "user_length", "assistant_length", "validation_status", "is_synthetic")}
    positions = {"train": 0, "validation": 0, "test": 0}
    for index in range(count):
        split = "train" if index % 10 < 8 else ("validation" if index % 10 == 8 else "test")
        dbms = rng.choice(list(DBMS_NAMES))
        strategy = STRATEGIES[index % len(STRATEGIES)]
        user = query(rng, rng.randint(750, 1100))
        assistant = user.replace(")>(", ")>=(", 1)
        row = {
            "dataset_name": "bench", "example_id": f"ex-{index:06d}", "split": split, "position": positions[split],
            "dbms": dbms, "strategy": strategy, "is_upper": strategy.endswith("U"),
            "system_prompt": f"You are an expert in {DBMS_NAMES[dbms]} statement mutation." + illustrations[strategy],
            "user_content": user, "assistant_content": assistant, "pair_id": f"{index:064x}",
            "original_fingerprint": f"{index:064x}", "run": "output1", "task": f"task-{index % 97}",
            "bug_id": index, "sql_id": index % 50,
            "relative_path": f"output1/{dbms}/task-{index % 97}/bugs/bug-{index}.json",
            "user_length": len(user), "assistant_length": len(assistant), "validation_status": "not validated",
            "is_synthetic": False,
        }
        positions[split] += 1
        for name, value in row.items():
            columns[name].append(value)
    return pa.table(columns)


def build_warehouse(path: Path, table: pa.Table) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE SCHEMA marts")
        con.register("bench_rows", table)
        con.execute("CREATE TABLE marts.dataset_examples AS SELECT * FROM bench_rows")
        con.unregister("bench_rows")
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=100_000)
    jobs_option(parser, "token-counting threads")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", type=Path, default=None, help="keep the warehouse and exports in this folder")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-export-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        start = time.perf_counter()
        table = build_rows(args.examples, args.seed)
        warehouse = work / "warehouse.duckdb"
        warehouse.unlink(missing_ok=True)
        build_warehouse(warehouse, table)
        content_mb = sum(len(s) for name in ("system_prompt", "user_content", "assistant_content")
                         for s in table.column(name).to_pylist()) / 1e6
        print(f"setup: {args.examples:,} examples, {content_mb:,.1f} MB of message text, "
              f"built in {time.perf_counter() - start:.1f} s; cores {os.cpu_count()}, "
              f"threads {args.jobs or default_threads()}")

        base = dump_chat_examples(warehouse, work / "baseline.jsonl")
        print(f"baseline (read + json.dumps to a file, no tokens): {base:6.2f} s")

        start, cpu = time.perf_counter(), time.process_time()
        result = export_dataset(warehouse, "bench", work / "exports", threads=args.jobs, quiet=True)
        export_seconds, export_cpu = time.perf_counter() - start, time.process_time() - cpu
        print(f"export (files + sidecars + checked report):         {export_seconds:6.2f} s "
              f"= {export_seconds / base:5.1f} x baseline (CPU {export_cpu:.1f} s)")

        start, cpu = time.perf_counter(), time.process_time()
        checked = 0
        for split in ("train", "validation", "test"):
            outcome = check_file(result.directory / f"{split}.jsonl", threads=args.jobs, quiet=True)
            checked += outcome.n_examples
            assert outcome.n_format_errors == 0, outcome.format_errors
        check_seconds, check_cpu = time.perf_counter() - start, time.process_time() - cpu
        print(f"check of the 3 written files ({checked:,} examples):  {check_seconds:6.2f} s "
              f"= {check_seconds / base:5.1f} x baseline (CPU {check_cpu:.1f} s)")

        both = export_seconds + check_seconds
        total = result.report["total"]
        print(f"export + check: {both:.2f} s = {both / base:.1f} x baseline; target <= {TARGET_SECONDS:.0f} s: "
              f"{'met' if both <= TARGET_SECONDS else 'MISSED'}; load average {os.getloadavg()[0]:.2f} "
              "(other processes on this machine slow every figure down)")
        print(f"tokens: total per example median {total['distributions']['total_tokens']['median']}, "
              f"p95 {total['distributions']['total_tokens']['p95']}; training estimate "
              f"{result.report['training']['billing_tokens']:,} billed tokens, "
              f"${result.report['training']['estimated_cost_usd']:,.2f}")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
