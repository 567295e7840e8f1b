"""Fixtures for validation tests: a real throwaway MariaDB (Debian's mariadb-server, started in a temp
folder on 127.0.0.1 and a private socket, stopped at the end) and a real warehouse built from the sample."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from validation_helpers import ROOT, dbt_build, run_cli

from mutations.formats import OUTPUT_DATA_SQL
from validation import ThrowawayServer, mariadb_binaries
from validation.databases import DatabaseLoader
from validation.scope import REFERENCE_DATA_SQL_HASH
from validation.server import private_home

SAMPLE = ROOT / "examples" / "pinolo-output"


def _require_mariadb() -> None:
    if mariadb_binaries() is None:
        pytest.fail("MariaDB server not installed (mariadbd, mariadb-install-db): run `make setup`", pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def _remove_private_homes(tmp_path_factory):
    """A server run as root keeps its files in the temp directory when its user cannot reach the test's folder
    (pytest's are 0700): remove those of every server folder this session made, once it is over."""
    yield
    base = tmp_path_factory.getbasetemp()
    for folder in [base, *base.rglob("*")]:
        home = private_home(folder)
        if folder.is_dir() and not folder.is_symlink() and home.is_dir():
            ThrowawayServer(folder).stop()
            shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory, _remove_private_homes):
    """A running throwaway server, shared by the session; tests that kill it restart it."""
    _require_mariadb()
    server = ThrowawayServer(tmp_path_factory.mktemp("mariadb"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def reference_database(mariadb) -> str:
    """The §9.3 data loaded into its validation database, with SELECT granted to the reader."""
    reader = mariadb.reader()
    with DatabaseLoader(mariadb.admin(), reader.user, loader=mariadb.loader()) as loader:
        return loader.ensure(REFERENCE_DATA_SQL_HASH, OUTPUT_DATA_SQL.decode(), "reference output.data.sql")


@pytest.fixture
def open_runner(mariadb, reference_database):
    """open_runner(timeout_s, row_cap, **limits): a StatementRunner on the reference database as the reader
    account (MariaDB's target), closed when the test ends."""
    from validation import StatementRunner, load_target

    opened = []

    def open_(timeout_s: float, row_cap: int, **limits):
        runner = StatementRunner(mariadb.reader(), load_target("mariadb"), timeout_s=timeout_s, row_cap=row_cap,
                                 **limits)
        opened.append(runner)
        runner.use(reference_database)
        return runner

    yield open_
    for runner in opened:
        runner.close()


@pytest.fixture(scope="session")
def sample_warehouse(tmp_path_factory) -> Path:
    """The bundled sample ingested and transformed (before any validation): copy it before writing."""
    warehouse = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    python = sys.executable
    run_cli(python, "-m", "ingest", "--quiet", "load", "--root", str(SAMPLE), "--warehouse", str(warehouse))
    run_cli(python, "-m", "ingest", "--quiet", "check", "--warehouse", str(warehouse))
    run_cli(python, "-m", "ingest", "--quiet", "datasets", "--warehouse", str(warehouse), "--dir", str(ROOT / "datasets"))
    run_cli(python, "-m", "ingest", "--quiet", "synthesize", "--warehouse", str(warehouse))
    dbt_build(warehouse)
    return warehouse


@pytest.fixture
def warehouse(sample_warehouse, tmp_path) -> Path:
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(sample_warehouse, copy)
    return copy
