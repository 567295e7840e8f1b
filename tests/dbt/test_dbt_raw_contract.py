"""The raw schema the dbt tests build on (raw_schema.sql, per docs/warehouse.md) is what ingest creates:
every column of it exists in ingest/schema.py with the same type (ingest may carry more)."""

from __future__ import annotations

import duckdb
import pytest
from dbt_fixtures import RAW_DDL


def test_raw_schema_columns_exist_in_ingest_with_the_same_types():
    schema = pytest.importorskip("pinoloft_base.schema")
    with duckdb.connect() as con:
        con.execute(RAW_DDL.read_text())
        rows = con.execute("select table_name, column_name, data_type from information_schema.columns"
                           " where table_schema = 'raw'").fetchall()
    ours: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        ours.setdefault(table, {})[column] = data_type
    theirs = {table: dict(columns) for table, columns in schema.RAW_TABLES.items()}
    assert sorted(ours) == sorted(theirs)
    differences = {
        table: {c: (t, theirs[table].get(c)) for c, t in columns.items() if theirs[table].get(c) != t}
        for table, columns in ours.items()
    }
    assert {t: d for t, d in differences.items() if d} == {}
