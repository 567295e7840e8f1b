"""Discovery of every layout: runs, PINOLO's outputPath, one pool, one task; with or without the tool folders."""

from __future__ import annotations

import shutil

import pytest
from ingest_helpers import all_files, rows, scalar

from ingest.discover import discover
from ingest.errors import SourceError
from ingest.loader import load
from simulator.generator import generate


def test_a_set_of_runs(faulty_tree, tmp_path):
    root, summary, _ = faulty_tree
    layout = discover(root)
    assert layout.root == str(root)
    assert [(u.rel, u.run, u.dbms) for u in layout.pools] == [
        ("output1/mariadb", "output1", "mariadb"), ("output1/mysql", "output1", "mysql"),
        ("output2/mariadb", "output2", "mariadb"), ("output2/mysql", "output2", "mysql")]
    assert len(layout.tasks) == summary.tasks == 12
    assert layout.tasks[0].rel == "output1/mariadb/task-0" and layout.tasks[0].task_id == 0
    warehouse = tmp_path / "w.duckdb"
    load(root, warehouse, quiet=True)
    assert rows(warehouse, "SELECT DISTINCT run, dbms FROM raw.tasks ORDER BY 1, 2") == [
        ("output1", "mariadb"), ("output1", "mysql"), ("output2", "mariadb"), ("output2", "mysql")]
    assert scalar(warehouse, "SELECT count(*) FROM raw.pool_results") == 4


def test_pinolo_output_path_names_the_run_after_the_root(clean_tree, tmp_path):
    root, _ = clean_tree
    layout = discover(root)
    assert [(u.rel, u.run, u.dbms) for u in layout.pools] == [("mysql", "output", "mysql")]
    warehouse = tmp_path / "w.duckdb"
    load(root, warehouse, quiet=True)
    assert rows(warehouse, "SELECT DISTINCT run, dbms FROM raw.bug_reports") == [("output", "mysql")]
    assert rows(warehouse, "SELECT min(relative_path) FROM raw.task_results") == [("mysql/task-0/result.json",)]


def test_a_single_pool(clean_tree, tmp_path):
    root, summary = clean_tree
    pool = root / "mysql"
    layout = discover(pool)
    assert [(u.kind, u.rel, u.run, u.dbms) for u in layout.units[:2]] == [
        ("pool", "", "output", "mysql"), ("task", "task-0", "output", "mysql")]
    warehouse = tmp_path / "w.duckdb"
    report = load(pool, warehouse, quiet=True)
    assert report.files_seen == len(all_files(pool))
    assert rows(warehouse, "SELECT relative_path, run, dbms, task FROM raw.pool_results") == [
        ("result.json", "output", "mysql", None)]
    assert rows(warehouse, "SELECT relative_path, task, task_id FROM raw.task_configs ORDER BY 1")[0] == (
        "task-0-config.json", "task-0", 0)
    assert scalar(warehouse, "SELECT count(*) FROM raw.bug_reports WHERE folder = 'bugs'") == summary.total_bugs


def test_a_single_task(clean_tree, tmp_path):
    root, _ = clean_tree
    task = root / "mysql" / "task-2"
    layout = discover(task)
    assert [(u.kind, u.rel, u.run, u.dbms, u.task, u.task_id) for u in layout.units] == [
        ("task", "", "output", "mysql", "task-2", 2)]
    warehouse = tmp_path / "w.duckdb"
    report = load(task, warehouse, quiet=True)
    assert report.files_seen == len(all_files(task)) and report.pools == 0 and report.tasks == 1
    assert rows(warehouse, "SELECT relative_path, run, dbms, task, has_result FROM raw.tasks") == [
        (".", "output", "mysql", "task-2", True)]
    assert scalar(warehouse, "SELECT count(*) FROM raw.task_configs") == 0  # the config lives in the pool
    assert rows(warehouse, "SELECT DISTINCT folder FROM raw.bug_reports ORDER BY 1") == [
        ("bugs",), ("maystable",), ("sqlsim",), ("unstable",)]
    assert scalar(warehouse, "SELECT min(relative_path) FROM raw.bug_reports").startswith("bugs/bug-")


def test_tasks_without_ckstable_or_sqlsim(tmp_path):
    root = tmp_path / "out"
    summary = generate(root, dbms=("tidb",), tasks=2, queries=8, seed=5, quiet=True)
    for task in (root / "tidb").glob("task-*"):
        for folder in ("maystable", "unstable", "sqlsim"):
            shutil.rmtree(task / folder, ignore_errors=True)
    warehouse = tmp_path / "w.duckdb"
    report = load(root, warehouse, quiet=True)
    assert report.files_quarantined == 0 and report.files_seen == len(all_files(root))
    assert rows(warehouse, "SELECT DISTINCT folders FROM raw.tasks") == [(["bugs"],)]
    assert rows(warehouse, "SELECT DISTINCT folder FROM raw.bug_reports") == [("bugs",)]
    assert scalar(warehouse, "SELECT count(*) FROM raw.bug_reports") == summary.total_bugs


def test_the_fault_manifest_is_never_read(faulty_tree, tmp_path):
    root, _, _ = faulty_tree
    warehouse = tmp_path / "w.duckdb"
    load(root, warehouse, quiet=True)
    assert scalar(warehouse, "SELECT count(*) FROM raw.ingest_files WHERE relative_path LIKE '%pinoloft-faults%'") == 0


def test_no_pinolo_output_is_a_clear_error(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    with pytest.raises(SourceError, match="no PINOLO task pool or task directory below"):
        discover(tmp_path)
    with pytest.raises(SourceError, match="no such directory"):
        discover(tmp_path / "missing")
