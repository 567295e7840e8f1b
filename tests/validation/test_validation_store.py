"""The warehouse tables validation writes: upgrades of old warehouses (the one DDL is pinoloft_base.schema)."""

from __future__ import annotations

import duckdb

from validation.store import INVOCATION_COLUMNS, RUN_COLUMNS, ensure_tables


def test_an_older_warehouse_gains_the_new_columns_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA raw")
        con.execute("CREATE TABLE raw.validation_runs (pair_hash VARCHAR, form VARCHAR, oracle VARCHAR)")
        con.execute("INSERT INTO raw.validation_runs VALUES ('p', 'raw', 'holds')")
        ensure_tables(con)
        ensure_tables(con)  # idempotent
        names = [row[0] for row in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' "
            "AND table_name = 'validation_runs' ORDER BY ordinal_position").fetchall()]
        rows = con.execute("SELECT pair_hash, form, oracle, settings_hash FROM raw.validation_runs").fetchall()
        invocations = con.execute("SELECT count(*) FROM raw.validation_invocations").fetchall()
        invocation_names = [row[0] for row in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' "
            "AND table_name = 'validation_invocations' ORDER BY ordinal_position").fetchall()]
    assert sorted(names) == sorted(name for name, _ in RUN_COLUMNS)
    assert rows == [("p", "raw", "holds", None)]
    assert invocations == [(0,)]
    # a missing table is created whole, in the contract's order
    assert invocation_names == [name for name, _ in INVOCATION_COLUMNS]
