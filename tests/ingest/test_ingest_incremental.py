"""Incremental loads: unchanged files are skipped, changed ones re-read, vanished ones marked."""

from __future__ import annotations

import os

from ingest_helpers import all_files, rows, scalar, snapshot

from ingest.loader import load
from mutations.formats import bug_json, parse_bug_json

DATA_TABLES = ("bug_reports", "task_results", "pool_results", "task_configs", "data_sqls", "task_log_bugs", "tasks",
               "ingest_quarantine")


def _bump(path, seconds=5):
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + seconds * 1_000_000_000))


def _check(report, seen, loaded, quarantined, unchanged, vanished):
    assert (report.files_seen, report.files_loaded, report.files_quarantined, report.files_unchanged,
            report.files_vanished) == (seen, loaded, quarantined, unchanged, vanished)
    assert report.files_seen == report.files_loaded + report.files_quarantined + report.files_unchanged


def test_a_second_run_over_an_unchanged_tree_skips_everything(clean_tree, tmp_path):
    root, _ = clean_tree
    warehouse = tmp_path / "w.duckdb"
    n = len(all_files(root))
    first = load(root, warehouse, quiet=True)
    before = snapshot(warehouse)
    second = load(root, warehouse, quiet=True)
    assert second.incremental and second.ingest_run_id == 2
    _check(second, n, 0, 0, n, 0)
    after = snapshot(warehouse)
    for table in DATA_TABLES:
        assert after[table] == before[table], table
    assert rows(warehouse, "SELECT DISTINCT first_seen_run, last_seen_run, status FROM raw.ingest_files") == [
        (1, 2, "loaded")]
    assert rows(warehouse, "SELECT ingest_run_id, files_seen, files_unchanged FROM raw.ingest_runs ORDER BY 1") == [
        (1, n, 0), (2, n, n)]
    assert first.files_loaded == n


def test_a_touched_report_is_read_again_with_its_log(clean_tree, tmp_path):
    root, _ = clean_tree
    warehouse = tmp_path / "w.duckdb"
    n = len(all_files(root))
    load(root, warehouse, quiet=True)
    target = sorted((root / "mysql" / "task-0" / "bugs").glob("*.json"))[3]
    rel = target.relative_to(root).as_posix()
    before = snapshot(warehouse)
    _bump(target)
    report = load(root, warehouse, quiet=True)
    _check(report, n, 2, 0, n - 2, 0)
    assert rows(warehouse, "SELECT ingest_run_id FROM raw.bug_reports WHERE relative_path = ?", [rel]) == [(2,)]
    assert scalar(warehouse, "SELECT count(*) FROM raw.bug_reports WHERE ingest_run_id = 2") == 1
    assert rows(warehouse, "SELECT first_seen_run, last_seen_run, mtime_ns FROM raw.ingest_files WHERE "
                           "relative_path = ?", [rel]) == [(1, 2, target.stat().st_mtime_ns)]
    after = snapshot(warehouse)
    strip = lambda table: sorted((r for r in table if rel not in r), key=repr)
    assert strip(after["bug_reports"]) == strip(before["bug_reports"])


def test_a_changed_report_replaces_its_rows(clean_tree, tmp_path):
    root, _ = clean_tree
    warehouse = tmp_path / "w.duckdb"
    n = len(all_files(root))
    load(root, warehouse, quiet=True)
    target = min((root / "mysql" / "task-1" / "maystable").glob("*.json"))
    rel = target.relative_to(root).as_posix()
    original_bytes = target.read_bytes()
    report = parse_bug_json(original_bytes)
    changed = report.__class__(report.report_time, report.bug_id, report.sql_id, report.mutation_name,
                               report.is_upper, report.original_sql, report.mutated_sql + " ")
    target.write_bytes(bug_json(changed).encode())
    second = load(root, warehouse, quiet=True)
    _check(second, n, 0, 2, n - 2, 0)
    assert rows(warehouse, "SELECT relative_path, reason FROM raw.ingest_quarantine ORDER BY 1") == [
        (rel, "bug json and its .log disagree on mutatedSql"),
        (rel[:-5] + ".log", "bug json and its .log disagree on mutatedSql")]
    assert scalar(warehouse, "SELECT count(*) FROM raw.bug_reports WHERE relative_path = ?", [rel]) == 0
    target.write_bytes(original_bytes)
    _bump(target, 10)
    third = load(root, warehouse, quiet=True)
    _check(third, n, 2, 0, n - 2, 0)
    assert scalar(warehouse, "SELECT count(*) FROM raw.ingest_quarantine") == 0
    assert rows(warehouse, "SELECT mutated_sql, ingest_run_id FROM raw.bug_reports WHERE relative_path = ?", [rel]) == [
        (report.mutated_sql, 3)]
    assert rows(warehouse, "SELECT first_seen_run, status FROM raw.ingest_files WHERE relative_path = ?", [rel]) == [
        (1, "loaded")]


def test_a_deleted_report_is_marked_vanished(clean_tree, tmp_path):
    root, _ = clean_tree
    warehouse = tmp_path / "w.duckdb"
    n = len(all_files(root))
    load(root, warehouse, quiet=True)
    target = min((root / "mysql" / "task-2" / "bugs").glob("*.json"))
    rel = target.relative_to(root).as_posix()
    target.unlink()
    second = load(root, warehouse, quiet=True)
    _check(second, n - 1, 0, 1, n - 2, 1)  # its .log is left alone: quarantined
    assert rows(warehouse, "SELECT is_vanished FROM raw.bug_reports WHERE relative_path = ?", [rel]) == [(True,)]
    assert scalar(warehouse, "SELECT count(*) FROM raw.bug_reports WHERE is_vanished") == 1
    assert rows(warehouse, "SELECT status, last_seen_run FROM raw.ingest_files WHERE relative_path = ?", [rel]) == [
        ("vanished", 1)]
    assert rows(warehouse, "SELECT relative_path, reason FROM raw.ingest_quarantine") == [
        (rel[:-5] + ".log", "bug .log without its .json")]
    third = load(root, warehouse, quiet=True)
    _check(third, n - 1, 0, 0, n - 1, 0)
    assert rows(warehouse, "SELECT files_vanished FROM raw.ingest_runs ORDER BY ingest_run_id") == [(0,), (1,), (0,)]


def test_losing_a_maystable_report_makes_its_sqlsim_twin_an_orphan(clean_tree, tmp_path):
    root, _ = clean_tree
    warehouse = tmp_path / "w.duckdb"
    n = len(all_files(root))
    load(root, warehouse, quiet=True)
    sim = min((root / "mysql" / "task-0" / "sqlsim").glob("*.json"))
    for ext in (".json", ".log"):
        (root / "mysql" / "task-0" / "maystable" / (sim.stem + ext)).unlink()
    report = load(root, warehouse, quiet=True)
    _check(report, n - 2, 0, 2, n - 4, 2)
    rel = sim.relative_to(root).as_posix()
    assert rows(warehouse, "SELECT relative_path, reason FROM raw.ingest_quarantine ORDER BY 1") == [
        (rel, "sqlsim report without its bug in maystable/"),
        (rel[:-5] + ".log", "its bug json is quarantined: sqlsim report without its bug in maystable/")]


def test_a_task_that_loses_its_result_is_flagged(clean_tree, tmp_path):
    root, _ = clean_tree
    warehouse = tmp_path / "w.duckdb"
    n = len(all_files(root))
    load(root, warehouse, quiet=True)
    (root / "mysql" / "task-1" / "result.json").unlink()
    report = load(root, warehouse, quiet=True)
    task_files = len(all_files(root / "mysql" / "task-1"))
    _check(report, n - 1, task_files, 0, n - 1 - task_files, 1)
    assert rows(warehouse, "SELECT has_result, finished_in_log, ingest_run_id FROM raw.tasks WHERE task = 'task-1'") == [
        (False, True, 2)]
    assert rows(warehouse, "SELECT relative_path, file_kind, reason FROM raw.ingest_quarantine") == [
        ("mysql/task-1", "task_dir", "task has no result.json although task.log says Finished (result not saved)")]
    assert scalar(warehouse, "SELECT count(*) FROM raw.task_results") == 3  # the vanished file's row is kept


def test_a_new_task_is_loaded_on_the_next_run(clean_tree, tmp_path):
    root, _ = clean_tree
    warehouse = tmp_path / "w.duckdb"
    moved = tmp_path / "held-back"
    (root / "mysql" / "task-2").rename(moved)
    first = load(root, warehouse, quiet=True)
    moved.rename(root / "mysql" / "task-2")
    n = len(all_files(root))
    second = load(root, warehouse, quiet=True)
    added = len(all_files(root / "mysql" / "task-2"))
    _check(second, n, added, 0, n - added, 0)
    assert first.files_seen == n - added
    assert rows(warehouse, "SELECT task, ingest_run_id FROM raw.tasks ORDER BY 1") == [
        ("task-0", 1), ("task-1", 1), ("task-2", 2)]
