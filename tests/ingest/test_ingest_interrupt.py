"""One transaction per run: an ingest killed (SIGKILL) or interrupted (Ctrl-C) mid-run leaves the warehouse
exactly as it was, and the next run converges to what an uninterrupted run gives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ingest_helpers import all_files, rows, snapshot

from ingest.loader import load
from simulator.generator import generate

REPO = Path(__file__).resolve().parents[2]

# Runs the real CLI with one change made from outside the library: after the second table's rows are
# inserted (inside the run's transaction), it announces a pause on stderr and sleeps, so the test can strike.
PAUSING = """
import sys, time
import ingest.loader as loader
insert = loader._Writer.insert
calls = []
def pausing(self, table):
    insert(self, table)
    calls.append(table)
    if len(calls) == 2:
        print("\\nPAUSED after inserting " + ", ".join(calls), file=sys.stderr, flush=True)
        time.sleep(600)
loader._Writer.insert = pausing
from ingest.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _start(root: Path, warehouse: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", PAUSING, "load", "--root", str(root), "--warehouse", str(warehouse),
                             "--jobs", "2"], cwd=REPO, stderr=subprocess.PIPE, text=True)


def _wait_paused(process: subprocess.Popen) -> str:
    seen = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stderr.readline()  # type: ignore[union-attr]
        if not line:
            break
        seen.append(line)
        if "PAUSED" in line:
            return "".join(seen)
    process.kill()
    raise AssertionError("the ingest never paused:\n" + "".join(seen))


def _content(warehouse: Path) -> dict[str, list[tuple]]:
    """The loaded content, without the columns that name the run or the time."""
    return {
        "bugs": rows(warehouse, "SELECT relative_path, pair_hash, file_hash, original_row_count, is_vanished "
                                "FROM raw.bug_reports ORDER BY 1"),
        "files": rows(warehouse, "SELECT relative_path, size, mtime_ns, file_hash, status FROM raw.ingest_files "
                                 "ORDER BY 1"),
        "quarantine": rows(warehouse, "SELECT relative_path, reason FROM raw.ingest_quarantine ORDER BY 1"),
        "tasks": rows(warehouse, "SELECT relative_path, has_result, finished_in_log, folders FROM raw.tasks ORDER BY 1"),
        "log_bugs": rows(warehouse, "SELECT relative_path, line_number, bug_id FROM raw.task_log_bugs ORDER BY 1, 2"),
    }


def _regenerate_differently(root: Path) -> None:
    """Replace the tree by another generation: most reports change, some vanish, some are new."""
    generate(root, dbms=("mysql",), tasks=4, queries=15, seed=8, quiet=True)
    for path in all_files(root):  # same sizes could hide behind equal mtimes on coarse clocks; make sure
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_a_killed_run_leaves_the_warehouse_as_before_and_the_next_run_converges(clean_tree, tmp_path):
    root, _ = clean_tree
    warehouse = tmp_path / "w.duckdb"
    load(root, warehouse, quiet=True)
    before = snapshot(warehouse)
    _regenerate_differently(root)

    process = _start(root, warehouse)
    progress = _wait_paused(process)
    assert "PAUSED after inserting " in progress  # mid-run, inside its transaction (no bar: stderr is a pipe)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert snapshot(warehouse) == before
    assert [p.name.split("-")[2] for p in tmp_path.glob(".ingest-staging-*")] == [str(process.pid)]

    report = load(root, warehouse, quiet=True)
    assert report.ingest_run_id == 2
    assert not list(tmp_path.glob(".ingest-staging-*"))  # the dead run's staged rows are cleaned up
    fresh = tmp_path / "fresh.duckdb"
    load(root, fresh, quiet=True)
    # the same rows as a fresh load, plus the reports of the first tree that are gone (marked vanished)
    assert [row for row in _content(warehouse)["bugs"] if not row[4]] == _content(fresh)["bugs"]
    for key in ("quarantine", "tasks", "log_bugs"):
        assert _content(warehouse)[key] == _content(fresh)[key], key
    kept = [row for row in _content(warehouse)["files"] if row[4] != "vanished"]
    assert kept == _content(fresh)["files"]


def test_a_killed_first_run_leaves_no_tables(clean_tree, tmp_path):
    root, _ = clean_tree
    warehouse = tmp_path / "w.duckdb"
    process = _start(root, warehouse)
    _wait_paused(process)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert snapshot(warehouse) is None
    report = load(root, warehouse, quiet=True)
    assert report.ingest_run_id == 1 and report.files_loaded == len(all_files(root))


def test_ctrl_c_rolls_back_and_exits_130(clean_tree, tmp_path):
    root, _ = clean_tree
    warehouse = tmp_path / "w.duckdb"
    load(root, warehouse, quiet=True)
    before = snapshot(warehouse)
    _regenerate_differently(root)
    process = _start(root, warehouse)
    _wait_paused(process)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "interrupted: nothing was committed" in err
    assert snapshot(warehouse) == before
