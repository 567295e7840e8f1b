"""Benchmark: `make transform`'s dbt build over 1,000,000 PINOLO pairs, against a plain DuckDB baseline.

    python bench/transform.py [--pairs N] [--dir PARENT] [--keep]

Fills a fresh warehouse directly in DuckDB (generate_series; the load is not timed) with the raw schema of
docs/warehouse.md (tests/dbt/raw_schema.sql):

* raw.bug_reports: N reports in bugs/ (~1 KB per SQL, PINOLO-shaped text with high-entropy literals),
  spread over 4 runs x 4 DBMSs x 125 tasks, with a PINOLO-like skew of strategies; every 10th report is an
  exact copy of the previous one (another run) and every 10th another differs from it only in a literal
  value (same fingerprint); each bug has its copy in maystable/ (85%) or unstable/ (15%), and every
  maystable bug a shorter sqlsim/ simplification: about 2.85 N rows in all;
* raw.mutation_verdicts: one verdict per distinct raw pair and per distinct sqlsim pair (95% conforming),
  with fingerprints that group the literal variants;
* raw.dataset_configs: a balanced dataset (18 strategies x 4 DBMSs, quota 10,000, sqlsim form, top-up)
  and an "all" dataset (every FixMCmpOpU pair, raw form); raw.synthetic_pairs: 4,000 top-up pairs.

Then runs `dbt build` (seeds, models and every test) as `make transform` does, in a subprocess, and prints
its wall and CPU time and their ratios to a baseline measured in the same process on the same file: a plain
`CREATE TABLE AS SELECT DISTINCT mutation_name, original_sql, mutated_sql` over the bug reports (what a
dedupe costs at least). The target is at most 60 s on a 2-core machine. The slowest nodes are listed too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "dbt_project"
RAW_DDL = ROOT / "tests" / "dbt" / "raw_schema.sql"
TARGET_SECONDS = 60.0

# PINOLO-like skew (QTRAN's counts, §0 of the reference), in per-mille of the reports.
STRATEGY_SHARES = [
    ("FixMDistinctL", 560),
    ("FixMHaving1U", 320),
    ("FixMCmpOpU", 40),
    ("FixMOn1U", 30),
    ("FixMInNullU", 12),
    ("FixMWhere1U", 10),
    ("FixMCmpOpL", 10),
    ("FixMWhere0L", 8),
    ("FixMHaving0L", 6),
    ("FixMOn0L", 4),
]


def strategy_case(expr: str) -> str:
    """A SQL CASE mapping `expr` in [0, 1000) to a strategy with the shares above."""
    parts, upper = [], 0
    for name, share in STRATEGY_SHARES:
        upper += share
        parts.append(f"when {expr} < {upper} then '{name}'")
    return "case " + " ".join(parts) + " else 'FixMDistinctL' end"


def fill(con: duckdb.DuckDBPyConnection, pairs: int) -> None:
    con.execute(RAW_DDL.read_text())
    quarter = pairs // 4
    per_dbms = max(quarter // 4, 1)
    con.execute(
        f"""
        create temp table gen as
        with base as (
            select
                i,
                i % 4 as r,
                i // 4 as j,
                case when i % 10 = 1 then i - 1 else i end as text_id,
                case when i % 10 in (1, 2) then i - i % 10 else i end as group_id,
                case when i % 10 = 2 then 7 else 3 end as literal,
                hash(i, 'stability') % 100 < 85 as maystable
            from generate_series(0, {pairs - 1}) as t(i)
        )
        select
            *,
            'output' || (r + 1) as run,
            ['mysql', 'mariadb', 'tidb', 'oceanbase'][least(j // {per_dbms}, 3) + 1] as dbms,
            (j % {per_dbms}) // 500 as task_id,
            j % 500 as bug_id,
            (j % 500) // 2 as sql_id,
            {strategy_case("hash(group_id, 'strategy') % 1000")} as mutation_name
        from base
        """
    )
    # ~1 KB PINOLO-shaped texts: fixed structure plus high-entropy literals from md5 of the group.
    con.execute(
        """
        create temp table texts as
        select
            *,
            'SELECT (`f' || (group_id % 20) || '`+' || literal || ') AS `f1`,(CONCAT(`col_varchar(20)_key_signed`, _UTF8MB4'''
                || md5(group_id || 'a') || ''')) AS `f2`,(~`col_bigint_undef_signed`>>OCT(ATAN(_UTF8MB4'''
                || md5(group_id || 'b') || '''))) AS `f3` FROM (SELECT `col_bigint_key_unsigned` AS `f10`,'
                || '`col_float_key_unsigned` AS `f11`,`col_decimal(40, 20)_undef_signed` AS `f12` FROM `table_'
                || (3 + 4 * (group_id % 2)) || '_utf8_undef` USE INDEX (`col_float_key_signed`)) AS `t1` JOIN (SELECT '
                || '(WEEKOFYEAR(QUOTE(' || (group_id % 97) || '))) AS `f13`,(DATE_ADD(`f16`, INTERVAL 1 WEEK)) AS `f15` '
                || 'FROM (SELECT `col_double_key_signed` AS `f16`,`col_varchar(20)_undef_signed` AS `f17` FROM '
                || '`table_3_utf8_undef`) AS `t4` WHERE ((_UTF8MB4''' || md5(group_id || 'c')
                || '''-UNHEX(-`f16`)%!' || (group_id % 1000) || ')>=(`f17`-BIT_LENGTH(_UTF8MB4''' || md5(group_id || 'd')
                || ''')>>2012)) IS TRUE) AS `t3` ON (`f11`) IN (LPAD(`f12`, `f13`, FROM_UNIXTIME(`f12`)),'
                || 'LCASE(SQRT(BINARY _UTF8MB4''' || md5(group_id || 'e') || ''')),~6) WHERE (`f1`)>=(`f2`) '
                || 'OR (`f3`) NOT BETWEEN _UTF8MB4''' || md5(group_id || 'f') || ''' AND 5 HAVING (`f1`)<=('
                || (group_id % 13) || ') ORDER BY `f1`' as original_sql
        from gen
        """
    )
    con.execute(
        """
        create temp table reports as
        select
            *,
            replace(original_sql, 'SELECT (`f', 'SELECT DISTINCT (`f') as mutated_sql,
            replace(replace(original_sql, ' ORDER BY `f1`', ''), '_UTF8MB4', '') as original_sqlsim,
            replace(replace(replace(original_sql, 'SELECT (`f', 'SELECT DISTINCT (`f'), ' ORDER BY `f1`', ''),
                '_UTF8MB4', '') as mutated_sqlsim,
            run || '/' || dbms || '/task-' || task_id as task_path,
            'bug-' || bug_id || '-' || sql_id || '-' || mutation_name as file_stem
        from texts
        """
    )
    con.execute(
        """
        create temp table hashed as
        select
            *,
            sha256(mutation_name || chr(31) || original_sql || chr(31) || mutated_sql) as pair_hash,
            sha256(mutation_name || chr(31) || original_sqlsim || chr(31) || mutated_sqlsim) as sqlsim_pair_hash
        from reports
        """
    )
    common = """
        '/bench/pinolo' as source_root, run, dbms, 'task-' || task_id as task, task_id,
        {path} as relative_path, md5(i || {salt}) || md5(i || {salt} || 'x') as file_hash,
        timestamp '2026-11-24 10:00:00' as ingested_at, 1 as ingest_run_id, {folder} as folder,
        bug_id, sql_id, mutation_name, mutation_name in ('FixMDistinctL', 'FixMCmpOpL', 'FixMWhere0L') as is_upper,
        '2022-12-04 22:05:25.145092291 +0800 CST m=+0.524526126' as report_time,
        {original} as original_sql, {mutated} as mutated_sql, {hash} as pair_hash,
        replace({path}, '.json', '.log') as log_relative_path, md5(i || {salt} || 'log') as log_file_hash,
        3 as original_row_count, ['f1', 'f2', 'f3'] as original_columns,
        ['DOUBLE', 'VARCHAR', 'DECIMAL'] as original_column_types, '1.234567ms' as original_duration,
        1.234567 as original_duration_ms, null as original_error,
        2 as mutated_row_count, ['f1', 'f2', 'f3'] as mutated_columns,
        ['DOUBLE', 'VARCHAR', 'DECIMAL'] as mutated_column_types, '1.1ms' as mutated_duration,
        1.1 as mutated_duration_ms, null as mutated_error, false as is_vanished
    """
    for folder, original, mutated, hash_, where in [
        ("'bugs'", "original_sql", "mutated_sql", "pair_hash", "true"),
        ("case when maystable then 'maystable' else 'unstable' end", "original_sql", "mutated_sql",
         "pair_hash", "true"),
        ("'sqlsim'", "original_sqlsim", "mutated_sqlsim", "sqlsim_pair_hash", "maystable"),
    ]:
        path = f"task_path || '/' || {folder} || '/' || file_stem || '.json'"
        select = common.format(path=path, salt=folder, folder=folder, original=original, mutated=mutated,
                               hash=hash_)
        con.execute(f"insert into raw.bug_reports select {select} from hashed where {where}")
    con.execute(
        """
        insert into raw.mutation_verdicts
        select pair_hash, any_value(mutation_name), any_value(original_sql), any_value(mutated_sql),
            hash(any_value(group_id), 'conforms') % 100 < 95, any_value(mutation_name) = 'FixMDistinctL',
            'ok', sha256('o' || any_value(group_id)), sha256('p' || any_value(group_id)),
            timestamp '2026-11-24 10:05:00', 'bench'
        from hashed group by pair_hash
        """
    )
    con.execute(
        """
        insert into raw.mutation_verdicts
        select sqlsim_pair_hash, any_value(mutation_name), any_value(original_sqlsim), any_value(mutated_sqlsim),
            hash(any_value(group_id), 'conforms') % 100 < 95, any_value(mutation_name) = 'FixMDistinctL',
            'ok', sha256('so' || any_value(group_id)), sha256('sp' || any_value(group_id)),
            timestamp '2026-11-24 10:05:00', 'bench'
        from hashed where maystable group by sqlsim_pair_hash
        """
    )
    con.execute(
        """
        insert into raw.dataset_configs
        select 'bench', strategy, ['mysql', 'mariadb', 'tidb', 'oceanbase'], 10000, 2000, 'sqlsim', 0.8, 0.1, 0.1,
            20261124, true, true, false, null, 'bench', timestamp '2026-11-24 10:06:00'
        from (values ('FixMDistinctU'), ('FixMDistinctL'), ('FixMCmpOpU'), ('FixMCmpOpL'), ('FixMUnionAllU'),
            ('FixMUnionAllL'), ('FixMInNullU'), ('FixMWhere1U'), ('FixMWhere0L'), ('FixMHaving1U'),
            ('FixMHaving0L'), ('FixMOn1U'), ('FixMOn0L'), ('FixMRmUnionAllL'), ('RdMLikeU'), ('RdMLikeL'),
            ('RdMRegExpU'), ('RdMRegExpL')) as s(strategy)
        union all
        select 'bench_all', 'FixMCmpOpU', ['mysql', 'mariadb', 'tidb', 'oceanbase'], null, null, 'raw', 0.9, 0.05,
            0.05, 7, false, true, false, null, 'bench_all', timestamp '2026-11-24 10:06:00'
        """
    )
    # Top-ups: FixMWhere0L / FixMHaving0L pairs derived from real FixMDistinctL originals.
    con.execute(
        """
        insert into raw.synthetic_pairs
        select
            sha256(strategy || chr(31) || original_sql || chr(31) || mutated) as pair_hash,
            'bench', dbms, strategy, false, original_sql, mutated, original_sqlsim,
            replace(replace(mutated, ' ORDER BY `f1`', ''), '_UTF8MB4', ''),
            pair_hash, task_path || '/bugs/' || file_stem || '.json', timestamp '2026-11-24 10:07:00'
        from (
            select *,
                case when i % 2 = 0 then 'FixMWhere0L' else 'FixMHaving0L' end as strategy,
                case when i % 2 = 0 then replace(original_sql, ' WHERE (`f1`)>=(`f2`) OR', ' WHERE 0 AND')
                     else replace(original_sql, ' HAVING (`f1`)<=(', ' HAVING 0 AND (') end as mutated
            from hashed
            where mutation_name = 'FixMDistinctL' and maystable and i % 10 = 0
            order by i
            limit 4000
        )
        """
    )


def run_dbt(warehouse: Path, work: Path) -> tuple[float, float, dict]:
    env = dict(os.environ, PINOLOFT_WAREHOUSE=str(warehouse), DBT_SEND_ANONYMOUS_USAGE_STATS="False",
               DBT_NO_VERSION_CHECK="True")
    dbt = Path(sys.executable).with_name("dbt")
    command = [str(dbt), "build", "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT),
               "--target-path", str(work / "target"), "--log-path", str(work / "logs"), "--quiet"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"dbt build failed with exit code {done.returncode}")
    return seconds, cpu, json.loads((work / "target" / "run_results.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=None, help="parent folder of the temporary warehouse")
    parser.add_argument("--keep", action="store_true", help="keep the warehouse and dbt's target folder")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pinoloft-bench-transform-", dir=args.dir))
    warehouse = work / "warehouse.duckdb"
    try:
        start = time.perf_counter()
        con = duckdb.connect(str(warehouse))
        fill(con, args.pairs)
        counts = dict(con.execute("select folder, count(*) from raw.bug_reports group by folder").fetchall())
        verdicts = con.execute("select count(*) from raw.mutation_verdicts").fetchall()[0][0]
        con.close()
        print(f"loaded {sum(counts.values()):,} raw.bug_reports rows ({counts}), {verdicts:,} verdicts "
              f"in {time.perf_counter() - start:.1f} s (not timed)")

        con = duckdb.connect(str(warehouse))
        start, cpu_start = time.perf_counter(), time.process_time()
        con.execute(
            "create table main.baseline as select distinct mutation_name, original_sql, mutated_sql "
            "from raw.bug_reports where folder = 'bugs'"
        )
        baseline, baseline_cpu = time.perf_counter() - start, time.process_time() - cpu_start
        con.execute("drop table main.baseline")
        con.close()

        seconds, cpu, results = run_dbt(warehouse, work)
        con = duckdb.connect(str(warehouse), read_only=True)
        pairs = con.execute("select count(*) from marts.pairs").fetchall()[0][0]
        examples = con.execute(
            "select dataset_name, count(*), count(*) filter (where is_synthetic) from marts.dataset_examples "
            "group by all order by 1"
        ).fetchall()
        con.close()

        nodes = sorted(results["results"], key=lambda r: -r["execution_time"])
        print(f"marts.pairs: {pairs:,} pairs; dataset_examples (dataset, rows, synthetic): {examples}")
        print(f"dbt build ({len(nodes)} nodes, seeds + models + tests): {seconds:.1f} s wall, {cpu:.1f} s CPU "
              f"(target <= {TARGET_SECONDS:.0f} s wall)")
        print(f"baseline CREATE TABLE AS SELECT DISTINCT over the {counts.get('bugs', 0):,} bug reports: "
              f"{baseline:.1f} s wall, {baseline_cpu:.1f} s CPU")
        print(f"ratio dbt build / baseline: {seconds / baseline:.1f}x wall, {cpu / baseline_cpu:.1f}x CPU "
              f"(CPU time is steadier when other work shares the machine; load average {os.getloadavg()[0]:.1f})")
        print("slowest nodes: " + ", ".join(f"{r['unique_id'].split('.')[2]} {r['execution_time']:.1f}s" for r in nodes[:8]))
        if seconds > TARGET_SECONDS:
            print(f"OVER TARGET: {seconds:.1f} s > {TARGET_SECONDS:.0f} s")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
