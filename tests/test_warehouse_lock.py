"""Every CLI on a warehouse another process holds open for writing (DuckDB allows one writing process): one line
naming the file and the holder's PID, that CLI's exit code for an unusable warehouse, no traceback, and nothing
started on the way (no MariaDB for `validation run` or `finetune evaluate`)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from mutations.warehouse_lock import in_use_message
from validation.server import private_home

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SAMPLE = ROOT / "examples" / "pinolo-output"

# A real second process with a real writing connection, held until its stdin closes.
_HOLD = "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('holding', flush=True); sys.stdin.read()"


@pytest.fixture
def held_warehouse(tmp_path) -> Iterator[tuple[Path, int]]:
    """(path, PID of the process holding it open for writing)."""
    path = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(path)).close()
    holder = subprocess.Popen([PYTHON, "-c", _HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline() == "holding\n"
        yield path, holder.pid
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)


def _in_use(path: Path, pid: int) -> str:
    return f"the warehouse {path} is in use by another process (PID {pid}); wait for it or close it"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def _mariadbd_processes(server_dir: Path) -> list[int]:
    """PIDs of any process whose command line names `server_dir` or the private folder a root-run server of
    `server_dir` would keep its files in (a mariadbd started for it)."""
    names = (str(server_dir).encode(), str(private_home(server_dir)).encode())
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path("/proc", entry, "cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile
        if any(name in cmdline for name in names):
            found.append(int(entry))
    return found


# (command after `python`, with {w} for the warehouse, exit code, the CLI's prefix for an error line)
CASES = {
    # ingest: 1 = a warehouse that cannot be opened (ingest/cli.py)
    "ingest load": (["-m", "ingest", "load", "--root", str(SAMPLE), "--warehouse", "{w}"], 1, "error: "),
    "ingest check": (["-m", "ingest", "check", "--warehouse", "{w}"], 1, "error: "),
    "ingest datasets": (["-m", "ingest", "datasets", "--warehouse", "{w}", "--dir", str(ROOT / "datasets")], 1,
                        "error: "),
    "ingest synthesize": (["-m", "ingest", "synthesize", "--warehouse", "{w}"], 1, "error: "),
    # validation: 1 = a step failed (server, target, warehouse or data SQL)
    "validation report": (["-m", "validation", "report", "--warehouse", "{w}"], 1, "ERROR validation: "),
    # exporters: 2 = could not run (missing warehouse…); it opens read-only, which a writer blocks too
    "exporters export": (["-m", "exporters", "export", "--warehouse", "{w}"], 2, "error: "),
    # finetune: 1 = a step failed
    "finetune list": (["-m", "finetune", "--warehouse", "{w}", "list"], 1, "ERROR finetune: "),
    "finetune compare": (["-m", "finetune", "--warehouse", "{w}", "compare"], 1, "ERROR finetune: "),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_held_warehouse_is_one_line_naming_the_holder(case, held_warehouse):
    path, pid = held_warehouse
    command, code, prefix = CASES[case]
    result = _run(*(str(path) if part == "{w}" else part for part in command))
    assert (result.returncode, result.stderr) == (code, prefix + _in_use(path, pid) + "\n")


def test_validation_run_on_a_held_warehouse_starts_no_server(held_warehouse, tmp_path):
    path, pid = held_warehouse
    server_dir = tmp_path / "mariadb"
    result = _run("-m", "validation", "run", "--warehouse", str(path), "--dataset", "demo",
                  "--server-dir", str(server_dir))
    assert (result.returncode, result.stderr) == (1, f"ERROR validation: {_in_use(path, pid)}\n")
    assert not (server_dir / "server.json").exists()
    assert _mariadbd_processes(server_dir) == []


def test_finetune_evaluate_on_a_held_warehouse_starts_no_server(held_warehouse, tmp_path):
    path, pid = held_warehouse
    server_dir = tmp_path / "mariadb"
    result = _run("-m", "finetune", "--warehouse", str(path), "evaluate", "--dataset", "demo", "--models",
                  "reference", "--server-dir", str(server_dir))
    assert (result.returncode, result.stderr) == (1, f"ERROR finetune: {_in_use(path, pid)}\n")
    assert not (server_dir / "server.json").exists()
    assert _mariadbd_processes(server_dir) == []


def test_in_use_message_reads_duckdb_lock_errors_only(held_warehouse, tmp_path):
    path, pid = held_warehouse
    for read_only in (False, True):
        with pytest.raises(duckdb.IOException) as conflict:
            duckdb.connect(str(path), read_only=read_only)
        assert in_use_message(path, conflict.value) == _in_use(path, pid)
    # DuckDB names no holder where the platform cannot tell: the line then says only that the file is in use
    no_holder = duckdb.IOException(f'IO Error: Could not set lock on file "{path}": Resource temporarily unavailable')
    assert in_use_message("w.duckdb", no_holder) == ("the warehouse w.duckdb is in use by another process; wait "
                                                     "for it or close it")
    not_duckdb = tmp_path / "not-a-warehouse.duckdb"
    not_duckdb.write_bytes(b"plain text, not a DuckDB file" * 200)
    with pytest.raises(duckdb.Error) as other:
        duckdb.connect(str(not_duckdb))
    assert in_use_message(not_duckdb, other.value) is None
