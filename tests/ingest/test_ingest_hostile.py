"""Untrusted trees (issue 11): one bad file or folder never stops a load. A JSON nested 100,000 deep, an
unreadable folder or file, links (never followed), fifos and sockets (never opened) and files over the size
cap are quarantined with their reason, everything else loads, the reconciliation line adds up, and a later
run behaves: an unchanged bad file is skipped, one fixed (or a cap raised, a folder made readable) loads.

Permission tests run the real CLI in a child process. As root, DAC is bypassed, so the child drops
CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH with setpriv; a probe checks that a chmod 000 file really cannot
be read under it before the test relies on it.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from ingest_helpers import all_files, rows, scalar

from ingest import readers
from ingest.loader import load

REPO = Path(__file__).resolve().parents[2]
DROP_DAC = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all"]
DEEP_JSON = b"[" * 100_000 + b"]" * 100_000
QUARANTINE = "SELECT relative_path, file_kind, reason FROM raw.ingest_quarantine ORDER BY 1"


def _privilege_prefix(probe: Path) -> list[str]:
    """The command prefix under which file permissions apply; the probe (mode 000) must be unreadable."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: permissions cannot be made to apply")
        prefix = DROP_DAC
    check = subprocess.run(prefix + [sys.executable, "-c", f"open({str(probe)!r}, 'rb')"], capture_output=True,
                           text=True, check=False)
    assert check.returncode != 0 and "PermissionError" in check.stderr, "the probe file was readable"
    return prefix


def _ingest(root: Path, warehouse: Path, *options: str, prefix: list[str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run((prefix or []) + [sys.executable, "-m", "ingest", "--quiet", "load", "--root", str(root),
                                            "--warehouse", str(warehouse), "--jobs", "2", *options],
                          cwd=REPO, capture_output=True, text=True, check=False, timeout=300)


def _line(seen: int, loaded: int, quarantined: int, unchanged: int, vanished: int = 0) -> str:
    return (f"files seen {seen} = loaded {loaded} + quarantined {quarantined} + skipped as unchanged {unchanged}; "
            f"vanished {vanished}")


def _counts(report) -> tuple[int, int, int, int, int]:
    return (report.files_seen, report.files_loaded, report.files_quarantined, report.files_unchanged,
            report.files_vanished)


def _bump(path: Path, seconds: int = 5) -> None:
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + seconds * 1_000_000_000))


def _bug_jsons(root: Path) -> int:
    return sum(1 for path in all_files(root) if path.suffix == ".json" and path.parent.name in
               ("bugs", "maystable", "unstable", "sqlsim"))


def test_json_nested_100000_deep_is_quarantined_and_the_rest_loads(clean_tree, tmp_path):
    root, summary = clean_tree
    n = len(all_files(root))
    reports = _bug_jsons(root)
    target = min((root / "mysql" / "task-0" / "bugs").glob("*.json"))
    original = target.read_bytes()
    target.write_bytes(DEEP_JSON)
    (root / "mysql" / "task-1" / "result.json").write_bytes(DEEP_JSON)
    warehouse = tmp_path / "w.duckdb"

    first = load(root, warehouse, jobs=2, quiet=True)

    rel = target.relative_to(root).as_posix()
    assert rows(warehouse, QUARANTINE) == [
        (rel, "bug_json", "bug json: nested too deeply to parse"),
        (rel[:-5] + ".log", "bug_log", "its bug json is quarantined: bug json: nested too deeply to parse"),
        ("mysql/task-1/result.json", "task_result", "task result.json: nested too deeply to parse")]
    assert _counts(first) == (n, n - 3, 3, 0, 0)
    assert first.reconciliation == _line(n, n - 3, 3, 0)
    assert scalar(warehouse, "SELECT count(*) FROM raw.bug_reports") == reports - 1
    assert scalar(warehouse, "SELECT count(*) FROM raw.task_results") == 2
    assert scalar(warehouse, "SELECT count(*) FROM raw.tasks") == 3
    # It was read: its hash is kept, so an unchanged bad file is skipped next time, not counted again.
    assert scalar(warehouse, "SELECT file_hash FROM raw.ingest_files WHERE relative_path = ?", [rel]) is not None
    second = load(root, warehouse, jobs=2, quiet=True)
    assert _counts(second) == (n, 0, 0, n, 0)
    assert len(rows(warehouse, QUARANTINE)) == 3
    # Fixed: the report loads whole and its quarantine rows go.
    target.write_bytes(original)
    _bump(target)
    third = load(root, warehouse, jobs=2, quiet=True)
    assert _counts(third) == (n, 2, 0, n - 2, 0)
    assert rows(warehouse, QUARANTINE) == [
        ("mysql/task-1/result.json", "task_result", "task result.json: nested too deeply to parse")]
    assert scalar(warehouse, "SELECT count(*) FROM raw.bug_reports") == reports
    assert summary.total_bugs == scalar(warehouse, "SELECT count(*) FROM raw.bug_reports WHERE folder = 'bugs'")


def test_an_unreadable_folder_and_file_are_quarantined_and_the_run_goes_on(clean_tree, tmp_path):
    root, _ = clean_tree
    n = len(all_files(root))
    reports = _bug_jsons(root)
    unstable = root / "mysql" / "task-0" / "unstable"
    hidden = len(list(unstable.iterdir()))
    assert hidden > 0
    task_log = root / "mysql" / "task-1" / "task.log"
    unstable.chmod(0)
    task_log.chmod(0)
    warehouse = tmp_path / "w.duckdb"
    try:
        prefix = _privilege_prefix(task_log)
        first = _ingest(root, warehouse, prefix=prefix)
    finally:
        unstable.chmod(0o755)
        task_log.chmod(0o644)

    assert first.returncode == 0, first.stderr
    seen = n - hidden + 1  # the folder counts once, as one quarantined entry
    assert first.stderr.splitlines()[-1] == _line(seen, seen - 2, 2, 0)
    assert rows(warehouse, "SELECT relative_path, file_kind, reason, file_hash FROM raw.ingest_quarantine "
                           "ORDER BY 1") == [
        ("mysql/task-0/unstable/", "folder", "cannot read the folder: Permission denied", None),
        ("mysql/task-1/task.log", "task_log", "cannot read the file: Permission denied", None)]
    assert scalar(warehouse, "SELECT count(*) FROM raw.bug_reports") == reports - hidden // 2
    assert scalar(warehouse, "SELECT count(*) FROM raw.bug_reports WHERE folder = 'unstable' AND task = 'task-0'") == 0
    assert rows(warehouse, "SELECT DISTINCT task FROM raw.task_log_bugs ORDER BY 1") == [("task-0",), ("task-2",)]
    assert rows(warehouse, "SELECT task, folders FROM raw.tasks WHERE task = 'task-0'") == [
        ("task-0", ["bugs", "maystable", "unstable", "sqlsim"])]

    # Permissions fixed (mtimes unchanged): what was unread is tried again and loads; the folder's entry goes.
    second = _ingest(root, warehouse)
    assert second.returncode == 0, second.stderr
    assert second.stderr.splitlines()[-1] == _line(n, hidden + 1, 0, n - hidden - 1)
    assert rows(warehouse, QUARANTINE) == []
    assert scalar(warehouse, "SELECT count(*) FROM raw.bug_reports") == reports
    assert scalar(warehouse, "SELECT count(*) FROM raw.ingest_files") == n
    assert rows(warehouse, "SELECT DISTINCT task FROM raw.task_log_bugs ORDER BY 1") == [
        ("task-0",), ("task-1",), ("task-2",)]


def test_an_unreadable_task_folder_and_a_folder_above_the_pools(clean_tree, tmp_path):
    root, _ = clean_tree
    n = len(all_files(root))
    task = root / "mysql" / "task-2"
    in_task = len(all_files(task))
    locked = root / "locked"
    locked.mkdir()
    (locked / "inside.txt").write_text("x")
    task.chmod(0)
    locked.chmod(0)
    warehouse = tmp_path / "w.duckdb"
    try:
        prefix = _privilege_prefix(locked / "inside.txt")
        first = _ingest(root, warehouse, prefix=prefix)
    finally:
        task.chmod(0o755)
        locked.chmod(0o755)

    assert first.returncode == 0, first.stderr
    seen = n - in_task + 2
    assert first.stderr.splitlines()[-1] == _line(seen, seen - 2, 2, 0)
    assert rows(warehouse, "SELECT relative_path, run, dbms, task, file_kind, reason FROM raw.ingest_quarantine "
                           "ORDER BY 1") == [
        ("locked/", None, None, None, "folder", "cannot read the folder: Permission denied"),
        ("mysql/task-2/", "output", "mysql", "task-2", "folder", "cannot read the folder: Permission denied")]
    assert rows(warehouse, "SELECT task FROM raw.tasks ORDER BY 1") == [("task-0",), ("task-1",)]
    second = _ingest(root, warehouse)
    assert second.returncode == 0, second.stderr
    assert second.stderr.splitlines()[-1] == _line(n, in_task, 0, n - in_task)
    assert rows(warehouse, QUARANTINE) == []
    assert rows(warehouse, "SELECT task FROM raw.tasks ORDER BY 1") == [("task-0",), ("task-1",), ("task-2",)]


def test_links_are_quarantined_and_never_followed(clean_tree, tmp_path):
    root, _ = clean_tree
    n = len(all_files(root))
    reports = _bug_jsons(root)
    outside = tmp_path / "outside"
    shutil.copytree(root / "mysql", outside / "mysql")  # a whole pool: followed, it would load
    bugs = root / "mysql" / "task-0" / "bugs"
    (bugs / "bug-900-1-FixMDistinctL.json").symlink_to("/etc/passwd")
    (root / "mysql" / "task-7").symlink_to(outside / "mysql" / "task-0", target_is_directory=True)
    (root / "mysql" / "task-1" / "maystable").rename(tmp_path / "maystable")
    (root / "mysql" / "task-1" / "maystable").symlink_to(tmp_path / "maystable", target_is_directory=True)
    (root / "output2").symlink_to(outside / "mysql", target_is_directory=True)
    moved = len(list((tmp_path / "maystable").iterdir()))
    warehouse = tmp_path / "w.duckdb"

    report = load(root, warehouse, jobs=2, quiet=True)

    sqlsim = sorted(p.relative_to(root).as_posix() for p in (root / "mysql" / "task-1" / "sqlsim").iterdir())
    orphan = "sqlsim report without its bug in maystable/"
    expected = [
        ("mysql/task-0/bugs/bug-900-1-FixMDistinctL.json", "bug_json", "symbolic link: not followed"),
        ("mysql/task-1/maystable", "other", "symbolic link: not followed"),
        *[(path, "bug_json" if path.endswith(".json") else "bug_log",
           orphan if path.endswith(".json") else f"its bug json is quarantined: {orphan}") for path in sqlsim],
        ("mysql/task-7", "other", "symbolic link: not followed"),
        ("output2", "other", "symbolic link: not followed")]
    assert rows(warehouse, QUARANTINE) == sorted(expected)
    quarantined = 4 + len(sqlsim)
    seen = n - moved + 4
    assert _counts(report) == (seen, seen - quarantined, quarantined, 0, 0)
    assert scalar(warehouse, "SELECT count(*) FROM raw.bug_reports") == reports - (moved + len(sqlsim)) // 2
    assert rows(warehouse, "SELECT task FROM raw.tasks ORDER BY 1") == [("task-0",), ("task-1",), ("task-2",)]
    assert scalar(warehouse, "SELECT count(*) FROM raw.ingest_files WHERE relative_path LIKE 'output2%' "
                             "OR relative_path LIKE 'mysql/task-7/%'") == 1
    passwd = Path("/etc/passwd").read_text().splitlines()[0]
    assert passwd.encode() not in warehouse.read_bytes()
    # The entry's own size (the length of the link's target), never the target's.
    assert scalar(warehouse, "SELECT size FROM raw.ingest_files WHERE relative_path = ?",
                  ["mysql/task-0/bugs/bug-900-1-FixMDistinctL.json"]) == len("/etc/passwd")
    # Unchanged links are tried again (they were not read), counted once per run.
    again = load(root, warehouse, jobs=2, quiet=True)
    assert _counts(again) == (seen, 0, 4, seen - 4, 0)
    assert rows(warehouse, QUARANTINE) == sorted(expected)


def test_a_fifo_and_a_socket_are_quarantined_without_being_opened(clean_tree, tmp_path, monkeypatch):
    root, _ = clean_tree
    n = len(all_files(root))
    task = root / "mysql" / "task-0"
    os.mkfifo(task / "bugs" / "bug-901-1-FixMDistinctL.log")
    (task / "output.data.sql").unlink()
    os.mkfifo(task / "output.data.sql")  # opened for reading, a fifo without a writer blocks forever
    os.mkfifo(root / "fifo-above")
    monkeypatch.chdir(task)  # a socket path must be short: bind it relative to the task folder
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind("ctl.sock")
    warehouse = tmp_path / "w.duckdb"
    try:
        result = _ingest(root, warehouse)  # a hang would end in TimeoutExpired
    finally:
        listener.close()

    assert result.returncode == 0, result.stderr
    seen = n - 1 + 4
    assert result.stderr.splitlines()[-1] == _line(seen, seen - 4, 4, 0)
    assert rows(warehouse, QUARANTINE) == [
        ("fifo-above", "other", "not a regular file: fifo"),
        ("mysql/task-0/bugs/bug-901-1-FixMDistinctL.log", "bug_log", "not a regular file: fifo"),
        ("mysql/task-0/ctl.sock", "other", "not a regular file: socket"),
        ("mysql/task-0/output.data.sql", "data_sql", "not a regular file: fifo")]
    assert rows(warehouse, "SELECT task FROM raw.data_sqls ORDER BY 1") == [("task-1",), ("task-2",)]
    assert stat.S_ISFIFO(os.lstat(task / "output.data.sql").st_mode)


def test_a_file_over_the_size_cap_is_quarantined_unread(clean_tree, tmp_path):
    root, _ = clean_tree
    files = all_files(root)
    n = len(files)
    cap = max(path.stat().st_size for path in files) + 100
    data_sql = root / "mysql" / "task-0" / "output.data.sql"
    data_sql.write_bytes(b"-- " + b"x" * (cap - 2))  # cap + 1 bytes
    report = min((root / "mysql" / "task-1" / "bugs").glob("*.json"))
    report.write_bytes(report.read_bytes() + b" " * (cap + 10 - report.stat().st_size))  # still valid JSON
    at_cap = root / "mysql" / "task-2" / "output.data.sql"
    at_cap.write_bytes(b"-" * cap)  # exactly the cap: loads
    warehouse = tmp_path / "w.duckdb"

    first = _ingest(root, warehouse, "--max-file-size", str(cap))

    assert first.returncode == 0, first.stderr
    assert first.stderr.splitlines()[-1] == _line(n, n - 3, 3, 0)
    rel = report.relative_to(root).as_posix()
    too_large = f"file too large: {cap + 10} bytes, over the {cap}-byte cap (--max-file-size); not read"
    assert rows(warehouse, "SELECT relative_path, file_kind, reason, file_hash FROM raw.ingest_quarantine "
                           "ORDER BY 1") == [
        ("mysql/task-0/output.data.sql", "data_sql",
         f"file too large: {cap + 1} bytes, over the {cap}-byte cap (--max-file-size); not read", None),
        (rel, "bug_json", too_large, None),
        (rel[:-5] + ".log", "bug_log", f"{report.name} of the same report: {too_large}", None)]
    assert rows(warehouse, "SELECT relative_path, size FROM raw.ingest_files WHERE relative_path = "
                           "'mysql/task-0/output.data.sql'") == [("mysql/task-0/output.data.sql", cap + 1)]
    assert rows(warehouse, "SELECT task FROM raw.data_sqls ORDER BY 1") == [("task-1",), ("task-2",)]
    assert scalar(warehouse, "SELECT size FROM raw.data_sqls WHERE task = 'task-2'") == cap
    # The same cap again: the unread files are tried again and quarantined again (no duplicate rows).
    same = load(root, warehouse, jobs=2, quiet=True, max_file_bytes=cap)
    assert _counts(same) == (n, 0, 3, n - 3, 0)
    assert scalar(warehouse, "SELECT count(*) FROM raw.ingest_quarantine") == 3
    # A larger cap: they load, although their size and mtime did not change.
    raised = load(root, warehouse, jobs=2, quiet=True, max_file_bytes=cap + 10)
    assert _counts(raised) == (n, 3, 0, n - 3, 0)
    assert rows(warehouse, QUARANTINE) == []
    assert scalar(warehouse, "SELECT count(*) FROM raw.data_sqls") == 3


def test_never_more_than_the_cap_is_read_from_a_file_that_grows(tmp_path):
    # A procfs file says size 0 and then yields more: the same as a file that grows after the stat.
    status = "/proc/self/status"
    if not os.path.exists(status) or os.stat(status).st_size != 0:
        pytest.skip("needs Linux procfs")
    with pytest.raises(readers._Refused) as refused:
        readers._read(status, 64)
    assert refused.value.reason == "file too large: grew past the 64-byte cap (--max-file-size) while being read"
    data, size, _ = readers._read(status, 1 << 20)
    assert size == 0 and data.startswith(b"Name:")
    with pytest.raises(readers._Refused):
        readers._hash_file(status, 64)


def test_a_bad_max_file_size_is_a_usage_error(clean_tree, tmp_path):
    root, _ = clean_tree
    for bad in ("0", "12XB", "-5"):
        result = _ingest(root, tmp_path / "w.duckdb", "--max-file-size", bad)
        assert result.returncode == 2 and "--max-file-size" in result.stderr, bad
    assert not (tmp_path / "w.duckdb").exists()
    help_text = subprocess.run([sys.executable, "-m", "ingest", "load", "--help"], cwd=REPO, capture_output=True,
                               text=True, check=True).stdout
    assert "--max-file-size" in help_text
