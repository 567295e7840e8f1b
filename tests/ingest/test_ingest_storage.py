"""Ingest's storage setting: its write connection appends row groups of `loader.ROW_GROUP_SIZE` rows (so that
DuckDB compresses and writes each full group while the workers still read), which changes where rows lie in
the file, never the rows. That such a connection behaves as a plain one (names, lock, spill folder) is
tested with the warehouse, in tests/pinoloft_base."""

from __future__ import annotations

import os

import duckdb
import pytest

import ingest.loader as loader
from ingest_helpers import rows, snapshot
from pinoloft_base.warehouse import write_transaction
from simulator.generator import generate

# Columns whose values differ between two loads of the same tree (when they ran).
VOLATILE = {"ingested_at", "updated_at", "started_at", "finished_at"}


def _row_groups(warehouse, table: str) -> list[int]:
    """Rows per row group of `table`, in row group order."""
    return [count for (count,) in rows(warehouse, f"""
        SELECT max(count) FROM pragma_storage_info('{table}') WHERE column_id = 0 AND segment_type <> 'VALIDITY'
        GROUP BY row_group_id ORDER BY row_group_id""")]


def _stable(warehouse) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        out = {}
        for table, found in (snapshot(warehouse) or {}).items():
            names = [row[0] for row in con.execute(f"DESCRIBE raw.{table}").fetchall()]
            keep = [index for index, name in enumerate(names) if name not in VOLATILE]
            out[table] = sorted((tuple(row[index] for index in keep) for row in found), key=repr)
        return out
    finally:
        con.close()


def test_a_write_transaction_with_a_row_group_size_appends_groups_of_that_size(tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    with write_transaction(warehouse, row_group_size=2048) as con:
        assert con.execute("SELECT current_database()").fetchall() == [("wh",)]  # as duckdb.connect names it
        con.execute("CREATE TABLE t (i BIGINT)")
        con.execute("INSERT INTO t SELECT range FROM range(5000)")
    assert _row_groups(warehouse, "t") == [2048, 2048, 904]
    assert rows(warehouse, "SELECT count(*), sum(i) FROM t") == [(5000, 12_497_500)]
    # The setting belongs to that connection: a plain one appends DuckDB's default groups.
    with write_transaction(warehouse) as con:
        con.execute("CREATE TABLE u AS SELECT range AS i FROM range(5000)")
    assert _row_groups(warehouse, "u") == [5000]


@pytest.fixture(scope="module")
def bigger_tree(tmp_path_factory):
    """A tree of a few thousand files: more ingest_files rows than two groups of 2048."""
    root = tmp_path_factory.mktemp("bigger") / "output"
    generate(root, dbms=("mysql",), runs=1, tasks=2, queries=350, seed=7, quiet=True)
    return root


def test_the_load_writes_row_groups_of_its_size_and_the_same_rows(bigger_tree, tmp_path, monkeypatch):
    root = bigger_tree
    plain = tmp_path / "plain.duckdb"
    monkeypatch.setattr(loader, "ROW_GROUP_SIZE", 122_880)  # DuckDB's own size
    loader.load(root, plain, jobs=2, quiet=True)
    small = tmp_path / "small.duckdb"
    monkeypatch.setattr(loader, "ROW_GROUP_SIZE", 2048)
    report = loader.load(root, small, jobs=2, quiet=True)
    files = report.files_seen
    assert files > 2 * 2048  # more rows than two groups: the split shows
    assert _row_groups(small, "raw.ingest_files") == [2048] * (files // 2048) + [files % 2048]
    assert _row_groups(plain, "raw.ingest_files") == [files]
    assert _stable(small) == _stable(plain)


@pytest.fixture
def staged_units(clean_tree, tmp_path):
    """A function (kind, count) -> (root, the read results of the tree's first `count` units of that kind, each staged
    under tmp_path/stage as a worker stages it)."""
    from ingest.discover import discover
    from ingest.readers import read_unit

    root, _ = clean_tree
    layout = discover(root)
    stage = tmp_path / "stage"
    stage.mkdir()

    def stage_units(kind: str, count: int):
        units = [unit for unit in layout.units if unit.kind == kind][:count]
        return layout.root, [read_unit(layout.root, unit, None, str(stage), str(index))
                             for index, unit in enumerate(units)]
    return stage_units


@pytest.fixture
def writer_connection(tmp_path):
    """A DuckDB file with the raw schema, for a `loader._Writer` to insert into."""
    from pinoloft_base.warehouse import ensure_schema

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_schema(con, "raw")
    yield con
    con.close()


def _writer(con, root: str) -> loader._Writer:
    from datetime import datetime

    return loader._Writer(con, root, 1, datetime(2026, 1, 1))


def test_the_writer_batches_until_the_last_stretch_then_inserts_each_unit(staged_units, writer_connection):
    """Staged rows wait for a batch of BATCH_ROWS bug rows, except while the workers finish their last units:
    then each unit goes in as it comes, so that little is left to insert once the last one is read."""
    root, results = staged_units("task", 2)
    bugs = [result.staged["bug_reports"][1] for result in results]
    assert 0 < sum(bugs) < loader.BATCH_ROWS

    con = writer_connection
    writer = _writer(con, root)
    count = "SELECT count(*) FROM raw.bug_reports"
    writer.add(results[0].staged)
    assert con.execute(count).fetchall() == [(0,)]  # waiting for a full batch
    assert os.path.exists(results[0].staged["bug_reports"][0])
    writer.add(results[1].staged, last_stretch=True)
    assert con.execute(count).fetchall() == [(sum(bugs),)]  # both units, at once
    assert writer.files == {} and writer.pending_bugs == 0
    assert not any(os.path.exists(path) for result in results for path, _ in result.staged.values())
    writer.flush()  # nothing left: a no-op
    assert con.execute(count).fetchall() == [(sum(bugs),)]


def test_the_writer_inserts_a_batch_once_it_holds_what_the_remaining_units_will_likely_bring(staged_units, writer_connection):
    """With `remaining` (the units still to come), a batch goes in as soon as its bug rows reach the average
    unit's times the units to come, so that about one unit is left for the end; a unit with nothing to come
    waits for the final flush."""
    root, results = staged_units("task", 3)
    bugs = [result.staged["bug_reports"][1] for result in results]
    assert len(bugs) == 3 and all(bugs) and sum(bugs) < loader.BATCH_ROWS

    con = writer_connection
    writer = _writer(con, root)
    count = "SELECT count(*) FROM raw.bug_reports"
    writer.add(results[0].staged, remaining=2)  # 1 unit pending, 2 to come: it waits
    assert con.execute(count).fetchall() == [(0,)]
    assert (writer.units, writer.bugs, writer.pending_bugs) == (1, bugs[0], bugs[0])
    writer.add(results[1].staged, remaining=1)  # 2 units pending, 1 to come: in they go
    assert con.execute(count).fetchall() == [(bugs[0] + bugs[1],)]
    assert (writer.units, writer.bugs, writer.pending_bugs) == (2, bugs[0] + bugs[1], 0)
    assert writer.files == {}
    writer.add(results[2].staged, remaining=0)  # the last unit: left for the final flush
    assert con.execute(count).fetchall() == [(bugs[0] + bugs[1],)]
    assert writer.pending_bugs == bugs[2]
    assert os.path.exists(results[2].staged["bug_reports"][0])
    writer.flush()
    assert con.execute(count).fetchall() == [(sum(bugs),)]
    assert not any(os.path.exists(path) for result in results for path, _ in result.staged.values())


def test_a_batch_without_bug_rows_waits_whatever_remains(staged_units, writer_connection):
    """The foreseeing rule counts bug rows: a unit of task files only (a pool's top) is not inserted on its own."""
    root, (result,) = staged_units("pool", 1)
    assert "bug_reports" not in result.staged
    files = result.staged["ingest_files"][1]
    assert files > 0

    con = writer_connection
    writer = _writer(con, root)
    count = "SELECT count(*) FROM raw.ingest_files"
    writer.add(result.staged, remaining=3)
    assert con.execute(count).fetchall() == [(0,)]
    assert (writer.units, writer.bugs, writer.pending_bugs) == (1, 0, 0)
    writer.flush()
    assert con.execute(count).fetchall() == [(files,)]
