"""Loading generated PINOLO trees: exact counts, every manifest fault with its own reason, reconciliation,
provenance, and the password that must never reach the warehouse or the logs."""

from __future__ import annotations

import hashlib
import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from collections import Counter
from pathlib import Path

import duckdb
from ingest_helpers import all_files, report_files, rows, scalar

from ingest.loader import load
from ingest.schema import columns
from mutations.fingerprint import pair_hash
from mutations.formats import parse_bug_json, parse_bug_log, parse_go_duration
from pinoloft_base.schema import RAW_TABLES
from pinoloft_base.warehouse import ensure_schema
from simulator.generator import LEAKED_PASSWORD

REPO = Path(__file__).resolve().parents[2]


def test_clean_tree_loads_every_file_with_exact_counts(clean_tree, tmp_path):
    root, summary = clean_tree
    warehouse = tmp_path / "w" / "warehouse.duckdb"  # parent folder created by ingest
    report = load(root, warehouse, jobs=2, quiet=True)

    files = all_files(root)
    assert report.files_seen == len(files) == report.files_loaded
    assert (report.files_quarantined, report.files_unchanged, report.files_vanished) == (0, 0, 0)
    assert report.incremental is False and report.tasks == 3 and report.pools == 1
    assert len(report_files(root)) == summary.report_files
    per_strategy = dict(rows(warehouse, "SELECT mutation_name, count(*) FROM raw.bug_reports WHERE folder = 'bugs' "
                                        "GROUP BY 1"))
    assert per_strategy == {name: count for name, count in summary.bugs.items() if count}
    folders = dict(rows(warehouse, "SELECT folder, count(*) FROM raw.bug_reports GROUP BY 1"))
    on_disk = Counter(p.parent.name for p in report_files(root) if p.suffix == ".json")
    assert folders == dict(on_disk)
    assert sum(folders.values()) * 2 == summary.report_files
    assert folders["maystable"] + folders["unstable"] == folders["bugs"] == summary.total_bugs
    for table, expected in (("task_results", 3), ("pool_results", 1), ("task_configs", 3), ("data_sqls", 3),
                            ("tasks", 3), ("task_log_bugs", summary.total_bugs), ("ingest_quarantine", 0),
                            ("ingest_files", len(files)), ("ingest_runs", 1), ("validation_runs", 0),
                            ("validation_invocations", 0)):
        assert scalar(warehouse, f"SELECT count(*) FROM raw.{table}") == expected, table
    assert scalar(warehouse, "SELECT count(*) FROM raw.bug_reports WHERE is_vanished") == 0


def test_tables_have_the_contract_columns(clean_tree, tmp_path):
    root, _ = clean_tree
    warehouse = tmp_path / "warehouse.duckdb"
    load(root, warehouse, jobs=1, quiet=True)
    for table, spec in RAW_TABLES.items():
        got = rows(warehouse, "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = "
                              "'raw' AND table_name = ? ORDER BY ordinal_position", [table])
        assert got == [(name, typ) for name, typ in spec], table
    assert columns("validation_runs")[:6] == ("pair_hash", "form", "target", "server_version", "validation_run_id",
                                              "repeat_index")
    provenance = ("source_root", "run", "dbms", "task", "task_id", "relative_path", "file_hash", "ingested_at",
                  "ingest_run_id")
    for table in ("bug_reports", "task_results", "pool_results", "task_configs", "data_sqls", "task_log_bugs"):
        assert columns(table)[: len(provenance)] == provenance


def test_an_older_warehouse_gets_the_missing_tables_and_columns(tmp_path):
    """A warehouse created before validation (issue 4): raw.validation_runs without the columns after
    executed_at and no raw.validation_invocations. ensure_schema adds both, keeps the rows, and is idempotent."""
    warehouse = tmp_path / "warehouse.duckdb"
    old_runs = RAW_TABLES["validation_runs"][: columns("validation_runs").index("executed_at") + 1]
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE SCHEMA raw")
        body = ", ".join(f"{name} {typ}" for name, typ in old_runs)
        con.execute(f"CREATE TABLE raw.validation_runs ({body})")
        con.execute("INSERT INTO raw.validation_runs (pair_hash, form, target, validation_run_id, repeat_index) "
                    "VALUES ('h', 'raw', 'mariadb-11', 1, 0)")
    for _ in range(2):
        with duckdb.connect(str(warehouse)) as con:
            ensure_schema(con, "raw")
    for table in ("validation_runs", "validation_invocations"):
        got = rows(warehouse, "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = "
                              "'raw' AND table_name = ? ORDER BY ordinal_position", [table])
        assert got == list(RAW_TABLES[table]), table
    assert rows(warehouse, "SELECT pair_hash, form, strategy, settings_hash FROM raw.validation_runs") == [
        ("h", "raw", None, None)]
    assert scalar(warehouse, "SELECT count(*) FROM raw.validation_invocations") == 0
    present = {name for (name,) in rows(warehouse, "SELECT table_name FROM information_schema.tables "
                                                   "WHERE table_schema = 'raw'")}
    assert present == set(RAW_TABLES)


def test_a_bug_row_holds_its_json_and_log(clean_tree, tmp_path):
    root, _ = clean_tree
    warehouse = tmp_path / "warehouse.duckdb"
    load(root, warehouse, jobs=2, quiet=True)
    path = min((root / "mysql" / "task-1" / "maystable").glob("*.json"))
    report = parse_bug_json(path.read_bytes())
    log = parse_bug_log(path.with_suffix(".log").read_text(encoding="utf-8"))
    rel = path.relative_to(root).as_posix()
    (row,) = rows(warehouse, "SELECT source_root, run, dbms, task, task_id, file_hash, folder, bug_id, sql_id, "
                             "mutation_name, is_upper, report_time, original_sql, mutated_sql, pair_hash, "
                             "log_relative_path, log_file_hash, original_row_count, original_columns, "
                             "original_column_types, original_duration, original_duration_ms, original_error, "
                             "mutated_row_count, mutated_duration_ms, is_vanished, "
                             "pair_hash = sha256(mutation_name || chr(31) || original_sql || chr(31) || mutated_sql) "
                             "FROM raw.bug_reports WHERE relative_path = ?", [rel])
    assert row == (
        str(root), root.name, "mysql", "task-1", 1, hashlib.sha256(path.read_bytes()).hexdigest(), "maystable",
        report.bug_id, report.sql_id, report.mutation_name, report.is_upper, report.report_time,
        report.original_sql, report.mutated_sql,
        pair_hash(report.mutation_name, report.original_sql, report.mutated_sql),
        rel[:-5] + ".log", hashlib.sha256(path.with_suffix(".log").read_bytes()).hexdigest(),
        len(log.original.rows), [c for c, _ in log.original.columns], [t for _, t in log.original.columns],
        log.original.duration, parse_go_duration(log.original.duration) / 1e6, None,
        len(log.mutated.rows), parse_go_duration(log.mutated.duration) / 1e6, False, True,
    )


def _expected_quarantine(root: Path, manifest: dict) -> dict[str, str]:
    """relative path -> fault kind, for every file (and killed task folder) a correct reader quarantines."""
    expected: dict[str, str] = {}
    for entry in manifest["entries"]:
        kind = entry["kind"]
        paths = entry["paths"]
        if kind in ("truncated_json", "empty_json", "invalid_utf8"):
            expected[paths[0]] = kind
            log = paths[0][:-5] + ".log"
            if (root / log).exists():
                expected[log] = kind + "/log"
        elif kind in ("unknown_mutation", "orphan_sqlsim", "non_select_drop", "non_select_multi"):
            expected[paths[0]] = kind
            expected[paths[1]] = kind + "/log"
        elif kind == "json_without_log":
            expected[paths[0]] = kind
        elif kind == "killed_task":
            expected[paths[0]] = kind
            for cut in paths[1:]:
                expected[cut] = kind + "/json"
                expected[cut[:-5] + ".log"] = kind + "/log"
    return expected


def test_every_manifest_fault_is_caught_with_its_own_reason(faulty_tree, tmp_path):
    root, summary, manifest = faulty_tree
    warehouse = tmp_path / "warehouse.duckdb"
    report = load(root, warehouse, jobs=2, quiet=True)
    assert set(summary.faults) == {"truncated_json", "empty_json", "invalid_utf8", "unknown_mutation",
                                   "json_without_log", "orphan_sqlsim", "duplicate_across_tasks",
                                   "duplicate_across_runs", "killed_task", "non_select_drop", "non_select_multi",
                                   "config_password"}
    quarantine = {path: (kind, reason) for path, kind, reason in
                  rows(warehouse, "SELECT relative_path, file_kind, reason FROM raw.ingest_quarantine")}
    expected = _expected_quarantine(root, manifest)
    assert set(quarantine) == set(expected)
    assert report.files_quarantined == len(expected) - 1  # the killed task's folder is not a file

    families: dict[str, set[str]] = {}
    for path, kind in expected.items():
        file_kind, reason = quarantine[path]
        if kind.endswith("/log"):
            assert file_kind == "bug_log"
            json_reason = quarantine[path[:-4] + ".json"][1]
            assert reason == f"its bug json is quarantined: {json_reason}"
            continue
        if kind == "killed_task":
            assert (file_kind, reason) == ("task_dir", "task killed before result.json (no Finished in task.log)")
        elif kind == "killed_task/json":
            assert re.fullmatch(r"bug json: invalid JSON: .+ \(char \d+\); the task was killed before result\.json "
                                r"\(report cut mid-write\)", reason), reason
        elif kind == "truncated_json":
            assert re.fullmatch(r"bug json: invalid JSON: .+ \(char \d+\)", reason), reason
        elif kind == "empty_json":
            assert reason == "bug json: file is empty"
        elif kind == "invalid_utf8":
            assert re.fullmatch(r"bug json: not valid UTF-8 \(byte \d+\)", reason), reason
        elif kind == "unknown_mutation":
            name = path.rsplit("-", 1)[1][:-5]
            assert reason == f"unknown mutation name {name!r}"
        elif kind == "json_without_log":
            assert reason == "bug json without its .log"
        elif kind == "orphan_sqlsim":
            assert reason == "sqlsim report without its bug in maystable/"
        elif kind == "non_select_drop":
            assert reason.startswith("non-SELECT statement in mutatedSql: DROP TABLE `table_7_utf8_undef`"), reason
        elif kind == "non_select_multi":
            assert reason.startswith("more than one statement in originalSql: "), reason
            assert reason.endswith("; DROP TABLE `table_3_utf8_undef`"), reason
        if not kind.startswith("killed_task"):
            assert file_kind == "bug_json"
        family = re.sub(r"\((char|byte) \d+\)|'[^']*'|`[^`]*`", "", reason)
        family = re.sub(r"(invalid JSON: )[^(]*", r"\1", family)
        family = re.sub(r"(in (original|mutated)Sql): .*", r"\1", family)
        families.setdefault(kind, set()).add(family)
    # one reason family per fault kind, and no two kinds share one
    flat = [next(iter(f)) for f in families.values()]
    assert all(len(f) == 1 for f in families.values()) and len(flat) == len(set(flat))

    for entry in manifest["entries"]:
        if entry["kind"] == "killed_task":
            rel = entry["paths"][0]
            assert rows(warehouse, "SELECT has_result, finished_in_log, folders FROM raw.tasks WHERE relative_path = ?",
                        [rel]) == [(False, False, ["bugs"])]
            assert scalar(warehouse, "SELECT count(*) FROM raw.bug_reports WHERE starts_with(relative_path, ?)",
                          [rel + "/"]) == entry["complete_bugs"]
        elif entry["kind"] == "config_password":
            assert rows(warehouse, "SELECT password_removed, relative_path FROM raw.task_configs WHERE run = ? AND "
                                   "dbms = ? AND task_id = ?", [f"output{entry['run']}", entry["dbms"], entry["task"]]
                        ) == [(True, entry["paths"][0])]
            assert scalar(warehouse, "SELECT status FROM raw.ingest_files WHERE relative_path = ?",
                          [entry["paths"][0]]) == "loaded"
        elif entry["kind"].startswith("duplicate_across"):
            hashes = rows(warehouse, "SELECT relative_path, pair_hash FROM raw.bug_reports WHERE relative_path IN (?, ?)",
                          [entry["source"], entry["paths"][0]])
            assert len(hashes) == 2 and hashes[0][1] == hashes[1][1]
            runs = {path.split("/")[0] for path in (entry["source"], entry["paths"][0])}
            assert (len(runs) == 2) == (entry["kind"] == "duplicate_across_runs")
    assert scalar(warehouse, "SELECT count(*) FROM raw.task_configs WHERE password_removed") == 1


def test_reconciliation_holds_and_is_stored(faulty_tree, tmp_path):
    root, _, _ = faulty_tree
    warehouse = tmp_path / "warehouse.duckdb"
    report = load(root, warehouse, jobs=2, quiet=True)
    files = all_files(root)
    assert report.files_seen == len(files) == report.files_loaded + report.files_quarantined + report.files_unchanged
    statuses = dict(rows(warehouse, "SELECT status, count(*) FROM raw.ingest_files GROUP BY 1"))
    assert statuses == {"loaded": report.files_loaded, "quarantined": report.files_quarantined}
    (run,) = rows(warehouse, "SELECT * FROM raw.ingest_runs")
    assert run[0] == 1 and run[1] == str(root) and run[4:9] == (len(files), report.files_loaded,
                                                                report.files_quarantined, 0, 0)
    assert run[9] == (f"files seen {len(files)} = loaded {report.files_loaded} + quarantined "
                      f"{report.files_quarantined} + skipped as unchanged 0; vanished 0")
    assert report.reconciliation == run[9]
    assert rows(warehouse, "SELECT count(*), count(DISTINCT relative_path) FROM raw.ingest_files")[0] == (len(files),) * 2
    loaded_bug_files = scalar(warehouse, "SELECT count(*) FROM raw.bug_reports") * 2
    quarantined_reports = scalar(warehouse, "SELECT count(*) FROM raw.ingest_quarantine WHERE file_kind LIKE 'bug_%'")
    assert loaded_bug_files + quarantined_reports == len(report_files(root))


def _all_cells(warehouse: Path) -> list[str]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cells = []
        for table in RAW_TABLES:
            for row in con.execute(f"SELECT * FROM raw.{table}").fetchall():
                cells.extend(repr(value) for value in row)
        return cells
    finally:
        con.close()


def test_the_password_never_reaches_the_warehouse_or_stderr(faulty_tree, tmp_path):
    root, _, _ = faulty_tree
    assert any(LEAKED_PASSWORD in p.read_text(errors="replace") for p in root.glob("*/*/task-*-config.json"))
    warehouse = tmp_path / "warehouse.duckdb"
    result = subprocess.run([sys.executable, "-m", "ingest", "--verbose", "load", "--root", str(root),
                             "--warehouse", str(warehouse)], cwd=REPO, capture_output=True, text=True, check=True)
    assert LEAKED_PASSWORD not in result.stderr + result.stdout
    assert "held a plaintext password; it was removed and is not stored" in result.stderr
    for path in tmp_path.glob("warehouse.duckdb*"):
        assert LEAKED_PASSWORD.encode() not in path.read_bytes()
    assert not any(LEAKED_PASSWORD in cell for cell in _all_cells(warehouse))
    # nor its hash: the stored hash of that config is the hash of its redacted form
    config = next(p for p in root.glob("*/*/task-*-config.json") if LEAKED_PASSWORD in p.read_text())
    real_hash = hashlib.sha256(config.read_bytes()).hexdigest()
    assert not any(real_hash in cell for cell in _all_cells(warehouse))
    redacted = config.read_bytes().replace(f'"password":"{LEAKED_PASSWORD}"'.encode(), b'"password":""')
    assert scalar(warehouse, "SELECT file_hash FROM raw.task_configs WHERE password_removed") == \
        hashlib.sha256(redacted).hexdigest()


def _stderr_on_a_terminal(argv: list[str]) -> str:
    """Run `argv` with its stderr on a pseudo-terminal (bars are drawn only where a person watches) and return
    what it wrote there; the run must succeed."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a new pty is 0 columns wide
    try:
        process = subprocess.Popen(argv, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=follower)
    finally:
        os.close(follower)
    chunks = []
    try:
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: the child has closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(leader)
    assert process.wait() == 0
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_cli_prints_the_summary_once_and_bars_only_on_a_terminal(clean_tree, tmp_path):
    root, _ = clean_tree
    n = len(all_files(root))
    warehouse = tmp_path / "nested" / "wh.duckdb"
    load_argv = ["load", "--root", str(root), "--warehouse", str(warehouse)]
    first = f"files seen {n} = loaded {n} + quarantined 0 + skipped as unchanged 0; vanished 0"
    unchanged = f"files seen {n} = loaded 0 + quarantined 0 + skipped as unchanged {n}; vanished 0"

    piped = subprocess.run([sys.executable, "-m", "ingest", *load_argv], cwd=REPO, capture_output=True, text=True,
                           check=True)
    head, *rest = piped.stderr.splitlines()  # no bar when no one watches: the summary alone, once
    assert re.fullmatch(rf"ingest run 1 \(first load of this root\): 1 pool\(s\), 3 task\(s\) under "
                        rf"{re.escape(str(root))} in \d+\.\ds", head), head
    assert rest == [first] and piped.stdout == ""

    loud = _stderr_on_a_terminal([sys.executable, "-m", "ingest", *load_argv])
    assert "scan: 100%" in loud and "dir/s" in loud  # the second load lists the tree first
    assert loud.count(unchanged) == 1 and loud.splitlines()[-1] == unchanged

    quiet = _stderr_on_a_terminal([sys.executable, "-m", "ingest", "--quiet", *load_argv])
    assert "it/s" not in quiet and "file/s" not in quiet and "dir/s" not in quiet
    assert quiet.splitlines()[-1] == unchanged and quiet.count(unchanged) == 1


def test_cli_errors_map_to_exit_codes(tmp_path):
    missing = subprocess.run([sys.executable, "-m", "ingest", "load", "--root", str(tmp_path / "nope"), "--warehouse",
                              str(tmp_path / "w.duckdb")], cwd=REPO, capture_output=True, text=True, check=False)
    assert missing.returncode == 2 and missing.stderr.strip() == f"error: no such directory: {tmp_path / 'nope'}"
    (tmp_path / "empty").mkdir()
    empty = subprocess.run([sys.executable, "-m", "ingest", "load", "--root", str(tmp_path / "empty"), "--warehouse",
                            str(tmp_path / "w.duckdb")], cwd=REPO, capture_output=True, text=True, check=False)
    assert empty.returncode == 2 and "no PINOLO task pool or task directory below" in empty.stderr
    helped = subprocess.run([sys.executable, "-m", "ingest", "--help"], cwd=REPO, capture_output=True, text=True, check=False)
    assert helped.returncode == 0 and all(name in helped.stdout for name in ("load", "check", "datasets", "synthesize"))
    assert not os.path.exists(tmp_path / "w.duckdb")


def test_an_unreadable_file_is_quarantined_not_fatal(clean_tree, tmp_path, monkeypatch):
    from ingest import readers

    root, _ = clean_tree
    target = min((root / "mysql" / "task-0" / "bugs").glob("*.log"))
    real_read = readers._read

    def failing_read(path, *args):
        if path == str(target):
            raise PermissionError(13, "Permission denied", path)
        return real_read(path, *args)

    monkeypatch.setattr(readers, "_read", failing_read)
    warehouse = tmp_path / "w.duckdb"
    report = load(root, warehouse, jobs=1, quiet=True)
    rel = target.relative_to(root).as_posix()
    assert rows(warehouse, "SELECT relative_path, file_kind, reason, file_hash FROM raw.ingest_quarantine "
                           "ORDER BY 1") == [
        (rel[:-4] + ".json", "bug_json", f"cannot read {target.name} of the same report: Permission denied", None),
        (rel, "bug_log", "cannot read the file: Permission denied", None)]
    assert report.files_quarantined == 2 and report.files_seen == len(all_files(root))
