"""The one way to open the warehouse, on real DuckDB files and a real second process holding one: the errors
and their exit codes, the lock message, the write transaction, and schema creation and upgrade."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from pinoloft_base.errors import EXIT_USAGE, EXIT_WAREHOUSE_BUSY, WarehouseBusyError, WarehouseError
from pinoloft_base.schema import RAW_TABLES
from pinoloft_base.warehouse import columns, connect, ensure_schema, in_use_message, write_transaction

PYTHON = sys.executable

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


def _in_use(path: Path | str, pid: int) -> str:
    return f"the warehouse {path} is in use by another process (PID {pid}); wait for it or close it"


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


def test_a_second_writer_or_reader_is_busy_with_exit_code_3(held_warehouse):
    path, pid = held_warehouse
    for read_only in (False, True):
        with pytest.raises(WarehouseBusyError) as busy:
            connect(path, read_only=read_only)
        assert str(busy.value) == _in_use(path, pid)
        assert busy.value.exit_code == EXIT_WAREHOUSE_BUSY == 3
        assert isinstance(busy.value, WarehouseError)  # a caller catching WarehouseError sees it too
    with pytest.raises(WarehouseBusyError):
        with write_transaction(path):
            pass  # pragma: no cover - the open fails first


def test_read_only_on_a_missing_file_is_a_usage_error_and_creates_nothing(tmp_path):
    missing = tmp_path / "nowhere" / "warehouse.duckdb"
    with pytest.raises(WarehouseError) as error:
        connect(missing, read_only=True)
    assert str(error.value) == (f"no warehouse at {missing}: build it with `make demo` or `make ingest transform` "
                                "(or give --warehouse)")
    assert type(error.value) is WarehouseError and error.value.exit_code == EXIT_USAGE == 2
    assert not (tmp_path / "nowhere").exists()


def test_a_file_that_is_not_duckdb_is_a_usage_error_naming_the_mode(tmp_path):
    not_duckdb = tmp_path / "notes.duckdb"
    not_duckdb.write_bytes(b"plain text, not a DuckDB file" * 200)
    for read_only, mode in ((True, "read-only"), (False, "for writing")):
        with pytest.raises(WarehouseError) as error:
            connect(not_duckdb, read_only=read_only)
        assert type(error.value) is WarehouseError and error.value.exit_code == 2
        assert str(error.value).startswith(f"cannot open the warehouse {not_duckdb} {mode}: ")


def test_opening_for_writing_makes_the_folders_and_the_file(tmp_path):
    path = tmp_path / "a" / "b" / "warehouse.duckdb"
    con = connect(path)
    try:
        assert con.execute("SELECT 42").fetchone() == (42,)
    finally:
        con.close()
    assert path.is_file()
    connect(path, read_only=True).close()  # now there is a warehouse to read


def test_write_transaction_commits_a_block_that_ends_and_rolls_back_one_that_raises(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with write_transaction(path, setup=["SET threads = 1"]) as con:
        con.execute("CREATE TABLE t (x INTEGER)")
        con.execute("INSERT INTO t VALUES (1)")
    for interruption in (RuntimeError("a step failed"), KeyboardInterrupt()):
        with pytest.raises(type(interruption)):
            with write_transaction(path) as con:
                con.execute("INSERT INTO t VALUES (2)")
                con.execute("CREATE TABLE u (y INTEGER)")
                raise interruption
    con = connect(path, read_only=True)
    try:
        assert con.execute("SELECT x FROM t").fetchall() == [(1,)]
        assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'u'").fetchone() == (0,)
    finally:
        con.close()
    connect(path).close()  # every connection was closed: the file opens for writing again


def _raw_columns(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for table, column in con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'raw' ORDER BY table_name, "
        "column_index"
    ).fetchall():
        found.setdefault(table, []).append(column)
    return {table: tuple(names) for table, names in found.items()}


def test_ensure_schema_creates_every_table_and_adds_a_missing_column_keeping_rows(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with write_transaction(path) as con:
        # an older warehouse: dataset_configs without its last two columns, holding one row
        older = [(name, kind) for name, kind in RAW_TABLES["dataset_configs"] if name not in ("config_hash", "loaded_at")]
        con.execute("CREATE SCHEMA raw")
        con.execute(f"CREATE TABLE raw.dataset_configs ({', '.join(f'{n} {k}' for n, k in older)})")
        con.execute("INSERT INTO raw.dataset_configs (dataset_name, quota) VALUES ('demo', 5)")
        ensure_schema(con, "raw")
    with write_transaction(path) as con:
        ensure_schema(con, "raw")  # idempotent: nothing to add the second time
        assert _raw_columns(con) == {table: columns("raw", table) for table in RAW_TABLES}
        assert con.execute("SELECT dataset_name, quota, config_hash, loaded_at FROM raw.dataset_configs").fetchall() \
            == [("demo", 5, None, None)]
        assert con.execute("SELECT count(*) FROM raw.bug_reports").fetchone() == (0,)


def test_ensure_schema_declares_the_keys_of_finetune_tables(tmp_path):
    with write_transaction(tmp_path / "w.duckdb") as con:
        ensure_schema(con, "finetune")
        ensure_schema(con, "finetune")
        con.execute("INSERT INTO finetune.jobs (job_id, status) VALUES ('ftjob-1', 'queued')")
        with pytest.raises(duckdb.ConstraintException):
            con.execute("INSERT INTO finetune.jobs (job_id, status) VALUES ('ftjob-1', 'running')")


# -- every command line on a held warehouse ---------------------------------------------------------------
# One line naming the file and the holder's PID, exit code 3 (busy), no traceback, and nothing started on the
# way (no MariaDB for `validation run` or `finetune evaluate`). `--warehouse` is global: before the subcommand.

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "pinolo-output"

CLI_CASES = {
    "ingest load": ["-m", "ingest", "--warehouse", "{w}", "load", "--root", str(SAMPLE)],
    "ingest check": ["-m", "ingest", "--warehouse", "{w}", "check"],
    "ingest datasets": ["-m", "ingest", "--warehouse", "{w}", "datasets", "--dir", str(ROOT / "datasets")],
    "ingest synthesize": ["-m", "ingest", "--warehouse", "{w}", "synthesize"],
    "validation report": ["-m", "validation", "--warehouse", "{w}", "report"],
    "exporters export": ["-m", "exporters", "--warehouse", "{w}", "export"],  # read-only: a writer blocks it too
    "finetune list": ["-m", "finetune", "--warehouse", "{w}", "list"],
    "finetune compare": ["-m", "finetune", "--warehouse", "{w}", "compare"],
}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def _mariadbd_processes(server_dir: Path) -> list[int]:
    """PIDs of any process whose command line names `server_dir` or the private folder a root-run server of
    `server_dir` would keep its files in (a mariadbd started for it)."""
    from validation.server import private_home

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


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_a_held_warehouse_is_one_line_naming_the_holder_and_exit_code_3(case, held_warehouse):
    path, pid = held_warehouse
    result = _run(*(str(path) if part == "{w}" else part for part in CLI_CASES[case]))
    assert (result.returncode, result.stderr) == (3, f"error: {_in_use(path, pid)}\n")


@pytest.mark.parametrize("command", [
    ["-m", "validation", "--warehouse", "{w}", "run", "--dataset", "demo", "--server-dir", "{s}"],
    ["-m", "finetune", "--warehouse", "{w}", "evaluate", "--dataset", "demo", "--models", "reference",
     "--server-dir", "{s}"],
], ids=["validation run", "finetune evaluate"])
def test_a_held_warehouse_starts_no_server(command, held_warehouse, tmp_path):
    path, pid = held_warehouse
    server_dir = tmp_path / "mariadb"
    result = _run(*({"{w}": str(path), "{s}": str(server_dir)}.get(part, part) for part in command))
    assert (result.returncode, result.stderr) == (3, f"error: {_in_use(path, pid)}\n")
    assert not (server_dir / "server.json").exists()
    assert _mariadbd_processes(server_dir) == []


# A connection with a row group size (ingest's writer) is an in-memory one with the file attached: it must
# behave as a plain file connection does.

@pytest.mark.parametrize("name", ["memory.duckdb", "o'neil \"x\".duckdb"])
def test_reserved_or_quoted_file_names_open_with_a_row_group_size(tmp_path, name):
    warehouse = tmp_path / name
    with write_transaction(warehouse, row_group_size=2048) as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS one")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT one FROM t").fetchall() == [(1,)]


def test_a_row_group_size_that_is_no_multiple_of_2048_is_refused(tmp_path):
    with pytest.raises(WarehouseError, match="row_group_size must be a positive multiple of 2048, got 3000"):
        with write_transaction(tmp_path / "wh.duckdb", row_group_size=3000):
            pass


def test_a_held_warehouse_is_busy_with_a_row_group_size_too(held_warehouse):
    path, pid = held_warehouse
    with pytest.raises(WarehouseBusyError) as caught:
        with write_transaction(path, row_group_size=2048):
            pass
    assert str(caught.value) == _in_use(path, pid)


def test_a_connection_with_a_row_group_size_spills_where_a_file_connection_would(tmp_path):
    """An in-memory connection would spill to `.tmp` in the working folder; this one keeps `<file>.tmp`."""
    warehouse = tmp_path / "it's.duckdb"
    with write_transaction(warehouse, row_group_size=4096) as con:
        spill = con.execute("SELECT current_setting('temp_directory')").fetchone()[0]
    assert spill == f"{tmp_path}/it's.duckdb.tmp"
