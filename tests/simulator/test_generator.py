"""The PINOLO output generator: tree layout (§7), consistency, real engine pairs, determinism, faults."""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import Path

import pytest

from mutations import STRATEGIES, check
from mutations.formats import (
    OUTPUT_DATA_SQL,
    FormatError,
    is_known_mutation,
    parse_bug_file_name,
    parse_bug_json,
    parse_bug_log,
    parse_go_time,
    parse_logrus_line,
    parse_pool_result,
    parse_task_config,
    parse_task_result,
)
from mutations.oracle import check_rows
from mutations.sqlsim import simplify
from simulator.generator import DEFAULT_MIX, FAULT_KINDS, MANIFEST_NAME, GenerateError, generate, parse_mix

SUBDIRS = ("bugs", "maystable", "unstable", "sqlsim")


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def task_dirs(pool: Path) -> list[Path]:
    return sorted((p for p in pool.iterdir() if p.is_dir()), key=lambda p: int(p.name.split("-")[1]))


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    root = tmp_path_factory.mktemp("clean")
    summary = generate(root, dbms=("mysql",), tasks=3, queries=25, seed=11, quiet=True, workers=2)
    return root, summary


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    root = tmp_path_factory.mktemp("faulty")
    summary = generate(root, dbms=("mysql", "mariadb"), runs=2, tasks=3, queries=12, seed=20261124, faults=0.05,
                       quiet=True, workers=2)
    manifest = json.loads((root / MANIFEST_NAME).read_text())
    return root, summary, manifest


# -- layout ------------------------------------------------------------------------------------------------


def test_tree_layout_matches_section_7(clean):
    root, summary = clean
    assert sorted(p.name for p in root.iterdir()) == ["mysql"]  # runs == 1: root is PINOLO's outputPath
    pool = root / "mysql"
    names = sorted(p.name for p in pool.iterdir())
    assert names == ["result.json", "task-0", "task-0-config.json", "task-1", "task-1-config.json", "task-2",
                     "task-2-config.json", "taskpool.log"]
    for task in task_dirs(pool):
        entries = sorted(p.name for p in task.iterdir())
        assert entries == ["bugs", "maystable", "output.data.sql", "result.json", "sqlsim", "task.log", "unstable"]
        assert (task / "output.data.sql").read_bytes() == OUTPUT_DATA_SQL
        for sub in SUBDIRS:
            for f in (task / sub).iterdir():
                parse_bug_file_name(f.name)
    assert summary.tasks == 3 and summary.queries == 75 and summary.faults == {}
    assert summary.report_files == sum(1 for p in pool.rglob("bug-*"))


def test_counts_are_consistent(clean):
    root, summary = clean
    pool = root / "mysql"
    total = 0
    bug_tasks = []
    for task in task_dirs(pool):
        result = parse_task_result((task / "result.json").read_bytes())
        jsons = sorted((task / "bugs").glob("*.json"))
        logs = sorted((task / "bugs").glob("*.log"))
        assert result.impo_bugs_num == len(jsons) == len(logs)
        assert result.dml_sqls_num == 25 and result.ddl_sqls_num == 4
        assert result.stage2_unit_num >= result.impo_bugs_num
        ids = sorted(parse_bug_file_name(p.name).bug_id for p in jsons)
        assert ids == list(range(len(jsons)))  # bugId is a per-task counter from 0
        may = {p.name for p in (task / "maystable").iterdir()}
        uns = {p.name for p in (task / "unstable").iterdir()}
        assert may.isdisjoint(uns) and may | uns == {p.name for p in (task / "bugs").iterdir()}
        assert {p.name for p in (task / "sqlsim").iterdir()} == may
        total += len(jsons)
        if jsons:
            bug_tasks.append(int(task.name.split("-")[1]))
        times = [parse_go_time(parse_task_result((task / "result.json").read_bytes()).start_time).unix_ns,
                 parse_go_time(result.end_init_time).unix_ns, parse_go_time(result.end_time).unix_ns]
        assert times == sorted(times)
    pool_result = parse_pool_result((pool / "result.json").read_bytes())
    assert pool_result.total_task_num == pool_result.finished_task_num == 3
    assert pool_result.bugs_num == total == summary.total_bugs
    assert sorted(pool_result.bug_task_ids) == bug_tasks
    assert summary.bugs.keys() == set(STRATEGIES)
    # unstable share ~15% (default)
    unstable = sum(1 for p in pool.rglob("unstable/*.json"))
    assert 0.03 <= unstable / total <= 0.35


def test_configs(clean):
    root, _ = clean
    pool = root / "mysql"
    seeds = []
    for i in range(3):
        config = parse_task_config((pool / f"task-{i}-config.json").read_bytes())
        assert config.task_id == i and config.dbms == "mysql" and config.password == ""
        assert config.dbname == f"TEST{i % 4}" and config.port == 13306 and config.need_dml is False
        assert config.ddl_path == f"{config.output_path}/mysql/task-{i}/output.data.sql"
        assert config.dml_path.endswith(f"/mysql/task-{i}/output.rand.sql") and config.rd_gen_path.endswith("go-randgen")
        assert config.queries_num == 25
        seeds.append(config.seed)
    assert seeds == [11, 12, 13]  # task seed = pool seed + task id


def test_task_log_sequence(clean):
    root, _ = clean
    for task in task_dirs(root / "mysql"):
        lines = [parse_logrus_line(line) for line in (task / "task.log").read_text().splitlines()]
        msgs = [line.msg for line in lines]
        config = parse_task_config((task.parent / f"{task.name}-config.json").read_bytes())
        assert msgs[0] == "use public connector"
        assert msgs[1] == (f" randgan cmd: cd {config.output_path}/mysql/{task.name} && {config.rd_gen_path} gentest  "
                           f"-Z {config.zz_path} -Y {config.yy_path} -Q 25 --seed {config.seed} -B ")
        assert msgs[2:5] == ["init ddl", "init dml", "Running " + "*" * 50]
        assert msgs[-1] == "Finished " + "*" * 50
        rates = [m for m in msgs if m.startswith("[Rate]")]
        assert rates == [f"[Rate]{i}/25" for i in (2, 5, 8, 11, 14, 17, 20, 23)]  # first ⌊25/20⌋+1, step +2
        bug_lines = [m for m in msgs if m.startswith("logical bug!!! ")]
        files = {p.stem for p in (task / "bugs").glob("*.json")}
        assert {"bug-{}-{}-{}".format(*(m.split(" = ")[i].split()[0] for i in (1, 2, 3))) for m in bug_lines} == files
        assert len(bug_lines) == len(files)
        stamps = [line.time for line in lines]
        assert stamps == sorted(stamps)
    pool_lines = [parse_logrus_line(x).msg for x in (root / "mysql" / "taskpool.log").read_text().splitlines()]
    assert pool_lines[0] == "Running " + "*" * 50 and pool_lines[-2:] == ["max tasks!", "Finished " + "*" * 50]
    assert {"Run task0", "Run task1", "Run task2", "task0 Finished", "task2 Finished"} <= set(pool_lines)
    assert sum(1 for m in pool_lines if " detected a logical bug!!! " in m) == sum(
        1 for _ in (root / "mysql").rglob("bugs/*.json"))


def test_every_pair_is_a_real_conforming_mutation(clean):
    root, _ = clean
    checked = 0
    for task in task_dirs(root / "mysql"):
        last_time = 0
        for path in sorted((task / "bugs").glob("*.json"), key=lambda p: parse_bug_file_name(p.name).bug_id):
            report = parse_bug_json(path.read_bytes())
            name = parse_bug_file_name(path.name)
            assert (report.bug_id, report.sql_id, report.mutation_name) == (name.bug_id, name.sql_id, name.mutation_name)
            stamp = parse_go_time(report.report_time).unix_ns
            assert stamp > last_time  # reportTime increases through the task
            last_time = stamp
            verdict = check(report.original_sql, report.mutated_sql, report.mutation_name)
            assert verdict.conforms, verdict.reason
            assert verdict.is_upper == report.is_upper
            log = parse_bug_log(path.with_suffix(".log").read_text(encoding="utf-8"))
            assert (log.mutation_name, log.is_upper, log.original_sql, log.mutated_sql) == (
                report.mutation_name, report.is_upper, report.original_sql, report.mutated_sql)
            assert not log.original.ambiguous_rows and not log.mutated.ambiguous_rows
            assert not check_rows(log.original.rows, log.mutated.rows, log.is_upper)  # the oracle fired
            for result in (log.original, log.mutated):
                assert result.error is None
                assert (len(result.columns) == 3) == bool(result.rows)
                assert {t for _, t in result.columns} <= {"BIGINT", "DOUBLE", "DECIMAL", "VARCHAR", "VARBINARY",
                                                          "DATE", "DATETIME", "TIME", "NULL"}
            for sub in ("maystable", "unstable"):
                copy = task / sub / path.name
                if copy.exists():
                    assert copy.read_bytes() == path.read_bytes()
                    assert copy.with_suffix(".log").read_bytes() == path.with_suffix(".log").read_bytes()
            sim_path = task / "sqlsim" / path.name
            if sim_path.exists():
                sim = parse_bug_json(sim_path.read_bytes())
                assert (sim.report_time, sim.bug_id, sim.sql_id, sim.mutation_name, sim.is_upper) == (
                    report.report_time, report.bug_id, report.sql_id, report.mutation_name, report.is_upper)
                assert (sim.original_sql, sim.mutated_sql) == simplify(report.original_sql, report.mutated_sql)
                assert "_UTF8MB4" not in sim.original_sql
                verdict = check(sim.original_sql, sim.mutated_sql, sim.mutation_name)
                assert verdict.conforms and verdict.is_upper == sim.is_upper, verdict.reason
                sim_log = parse_bug_log(sim_path.with_suffix(".log").read_text(encoding="utf-8"))
                assert (sim_log.original_sql, sim_log.mutated_sql) == (sim.original_sql, sim.mutated_sql)
            checked += 1
    assert checked > 20


def test_default_mix_shape(clean):
    _, summary = clean
    bugs = summary.bugs
    assert bugs["FixMDistinctL"] > bugs["FixMHaving1U"] > max(bugs["FixMCmpOpU"], bugs["FixMOn1U"], 0)
    for name in STRATEGIES:
        if name not in DEFAULT_MIX:
            assert bugs[name] == 0, name


def test_deterministic_regardless_of_workers_and_idempotent(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    generate(a, dbms=("mysql", "tidb"), runs=2, tasks=3, queries=8, seed=3, faults=0.1, quiet=True, workers=1)
    generate(b, dbms=("mysql", "tidb"), runs=2, tasks=3, queries=8, seed=3, faults=0.1, quiet=True, workers=3)
    first = tree_bytes(a)
    assert first == tree_bytes(b)
    (a / "output1" / "mysql" / "stray.txt").write_text("left over")
    (a / "mysql").mkdir()  # a pool dir left by an earlier runs == 1 generation
    generate(a, dbms=("mysql", "tidb"), runs=2, tasks=3, queries=8, seed=3, faults=0.1, quiet=True, workers=2)
    assert tree_bytes(a) == first
    other = generate(tmp_path / "c", dbms=("mysql",), tasks=1, queries=8, seed=4, quiet=True)
    assert other.total_bugs >= 0
    assert tree_bytes(tmp_path / "c") != {k: v for k, v in first.items() if k.startswith("output1/mysql")}


def test_all_strategies_with_uniform_mix(tmp_path):
    summary = generate(tmp_path, tasks=2, queries=90, seed=8, mix="all", all_strategies=True, quiet=True, workers=2)
    assert {name for name, n in summary.bugs.items() if n} == set(STRATEGIES)
    for path in tmp_path.rglob("bugs/*.json"):
        report = parse_bug_json(path.read_bytes())
        verdict = check(report.original_sql, report.mutated_sql, report.mutation_name)
        assert verdict.conforms and verdict.is_upper == report.is_upper, (path.name, verdict.reason)


# -- faults ------------------------------------------------------------------------------------------------


def test_manifest_lists_every_fault_kind(faulty):
    root, summary, manifest = faulty
    kinds = Counter(e["kind"] for e in manifest["entries"])
    assert set(kinds) == set(FAULT_KINDS)
    assert summary.faults == dict(kinds)
    assert "skip" in manifest["note"]
    assert (root / MANIFEST_NAME).is_file() and not list(root.rglob(f"*/{MANIFEST_NAME}"))
    for entry in manifest["entries"]:
        assert {"kind", "run", "dbms", "task", "paths", "expect"} <= set(entry)
        assert entry["expect"]
        for rel in entry["paths"]:
            assert (root / rel).exists(), (entry["kind"], rel)
            assert rel.startswith(f"output{entry['run']}/{entry['dbms']}/")


def _by_kind(manifest, kind):
    return [e for e in manifest["entries"] if e["kind"] == kind]


def test_fault_damage_is_on_disk_as_described(faulty):
    root, _, manifest = faulty
    for e in _by_kind(manifest, "truncated_json"):
        data = (root / e["paths"][0]).read_bytes()
        assert len(data) == e["bytes"] and data
        with pytest.raises(FormatError, match="invalid JSON"):
            parse_bug_json(data)
    for e in _by_kind(manifest, "empty_json"):
        assert (root / e["paths"][0]).read_bytes() == b""
    for e in _by_kind(manifest, "invalid_utf8"):
        data = (root / e["paths"][0]).read_bytes()
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        with pytest.raises(FormatError, match="UTF-8"):
            parse_bug_json(data)
    for e in _by_kind(manifest, "unknown_mutation"):
        json_path, log_path = (root / p for p in e["paths"])
        name = parse_bug_file_name(json_path.name).mutation_name
        assert not is_known_mutation(name) and name == e["name"]
        assert parse_bug_json(json_path.read_bytes()).mutation_name == name
        assert parse_bug_log(log_path.read_text()).mutation_name == name
        assert not any((root / p).exists() for p in e["replaces"])
    for e in _by_kind(manifest, "json_without_log"):
        assert (root / e["paths"][0]).exists() and not (root / e["missing"]).exists()
        parse_bug_json((root / e["paths"][0]).read_bytes())
    for e in _by_kind(manifest, "orphan_sqlsim"):
        json_path = root / e["paths"][0]
        assert json_path.parent.name == "sqlsim"
        key = parse_bug_file_name(json_path.name)
        task = json_path.parent.parent
        assert not (task / "bugs" / json_path.name).exists() and not (task / "maystable" / json_path.name).exists()
        assert parse_bug_json(json_path.read_bytes()).bug_id == key.bug_id
    for kind in ("duplicate_across_tasks", "duplicate_across_runs"):
        for e in _by_kind(manifest, kind):
            source = parse_bug_json((root / e["source"]).read_bytes())
            dup_path = root / e["paths"][0]
            dup = parse_bug_json(dup_path.read_bytes())
            assert (dup.mutation_name, dup.original_sql, dup.mutated_sql) == (
                source.mutation_name, source.original_sql, source.mutated_sql)
            assert dup_path.parent.parent != (root / e["source"]).parent.parent
            src_run = e["source"].split("/")[0]
            assert (src_run != e["paths"][0].split("/")[0]) == (kind == "duplicate_across_runs")
            assert check(dup.original_sql, dup.mutated_sql, dup.mutation_name).conforms
    for e in _by_kind(manifest, "non_select_drop"):
        report = parse_bug_json((root / e["paths"][0]).read_bytes())
        assert report.mutated_sql.startswith("DROP TABLE ")
        assert parse_bug_log((root / e["paths"][1]).read_text()).mutated_sql == report.mutated_sql
    for e in _by_kind(manifest, "non_select_multi"):
        report = parse_bug_json((root / e["paths"][0]).read_bytes())
        assert report.original_sql.startswith("SELECT ") or report.original_sql.startswith(("(SELECT", "WITH"))
        assert report.original_sql.endswith("; DROP TABLE `table_3_utf8_undef`")


def test_killed_task_and_password(faulty):
    root, _, manifest = faulty
    (killed,) = _by_kind(manifest, "killed_task")
    task = root / killed["paths"][0]
    assert not (task / "result.json").exists()
    assert not any((task / sub).exists() for sub in ("maystable", "unstable", "sqlsim"))
    msgs = [parse_logrus_line(x).msg for x in (task / "task.log").read_text().splitlines()]
    assert "Running " + "*" * 50 in msgs and not any(m.startswith("Finished") for m in msgs)
    pool = task.parent
    pool_result = parse_pool_result((pool / "result.json").read_bytes())
    assert pool_result.total_task_num == 3 and pool_result.finished_task_num == 2
    assert pool_result.bugs_num == sum(parse_task_result((t / "result.json").read_bytes()).impo_bugs_num
                                       for t in task_dirs(pool) if (t / "result.json").exists())
    complete = 0
    for path in (task / "bugs").glob("*.json"):
        try:
            parse_bug_json(path.read_bytes())
            complete += 1
        except FormatError:
            assert f"{killed['paths'][0]}/bugs/{path.name}" in killed["paths"]
    assert complete == killed["complete_bugs"]
    assert f"task{killed['task']} Finished" not in (pool / "taskpool.log").read_text()

    (leak,) = _by_kind(manifest, "config_password")
    passwords = {str(p.relative_to(root)): parse_task_config(p.read_bytes()).password
                 for p in root.rglob("task-*-config.json")}
    assert passwords.pop(leak["paths"][0]) != ""
    assert set(passwords.values()) == {""}


def test_fault_share_is_roughly_respected(tmp_path):
    summary = generate(tmp_path, tasks=4, queries=60, seed=2, faults=0.05, quiet=True, workers=2)
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
    damaged = {p for e in manifest["entries"] if e["kind"] not in ("killed_task", "config_password") for p in e["paths"]}
    assert 0.03 <= len(damaged) / summary.report_files <= 0.09
    assert set(summary.faults) == set(FAULT_KINDS) - {"duplicate_across_runs"}


def test_faults_need_a_big_enough_tree(tmp_path):
    with pytest.raises(GenerateError, match="too small"):
        generate(tmp_path, tasks=1, queries=1, seed=1, faults=0.5, quiet=True)


# -- arguments and CLI -------------------------------------------------------------------------------------


def test_parse_mix():
    assert parse_mix(None) == DEFAULT_MIX
    assert parse_mix("FixMDistinctL=50,FixMHaving1U=30") == {"FixMDistinctL": 50.0, "FixMHaving1U": 30.0}
    assert parse_mix("all") == {name: 1.0 for name in STRATEGIES}
    for bad, message in (("FixMNope=1", "unknown strategy"), ("FixMOn1U", "NAME=WEIGHT"), ("FixMOn1U=x", "number"),
                         ("FixMOn1U=0", "positive"), ("FixMOn1U=-1", ">= 0")):
        with pytest.raises(GenerateError, match=message):
            parse_mix(bad)


@pytest.mark.parametrize(
    "kwargs",
    [dict(dbms=()), dict(dbms=("My SQL",)), dict(dbms=("mysql", "mysql")), dict(tasks=0), dict(runs=0),
     dict(faults=1.0), dict(unstable_share=2.0), dict(workers=0)],
)
def test_generate_rejects_bad_arguments(tmp_path, kwargs):
    with pytest.raises(GenerateError):
        generate(tmp_path, quiet=True, **{"queries": 2, **kwargs})


def test_file_hashes_are_stable_for_a_seed(tmp_path):
    """A golden digest would pin the engine's exact output too; instead pin the seed-only parts."""
    generate(tmp_path, tasks=1, queries=3, seed=42, quiet=True)
    config = (tmp_path / "mysql" / "task-0-config.json").read_bytes()
    assert hashlib.sha256(config).hexdigest() == hashlib.sha256(
        b'{"outputPath":"/home/pinolo/impomysql/output","dbms":"mysql","taskId":0,"host":"127.0.0.1","port":13306,'
        b'"username":"root","password":"","dbname":"TEST0","seed":42,'
        b'"ddlPath":"/home/pinolo/impomysql/output/mysql/task-0/output.data.sql",'
        b'"dmlPath":"/home/pinolo/impomysql/output/mysql/task-0/output.rand.sql",'
        b'"rdGenPath":"/home/pinolo/impomysql/resources/go-randgen","zzPath":"/home/pinolo/impomysql/resources/impo.zz.lua",'
        b'"yyPath":"/home/pinolo/impomysql/resources/impo.yy","queriesNum":3,"needDML":false}'
    ).hexdigest()
    assert os.path.getsize(tmp_path / "mysql" / "task-0" / "output.data.sql") == 3660
