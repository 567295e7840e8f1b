"""The finetune schema as `Store` makes it: the base floor's one definition, and a warehouse an older version
built keeps its rows and gains what it lacks."""

from __future__ import annotations

from datetime import datetime

import duckdb

from finetune import Store
from pinoloft_base.schema import FINETUNE_KEYS, FINETUNE_TABLES


def test_a_new_warehouse_gets_every_table_with_its_columns_and_keys(tmp_path):
    store = Store(tmp_path / "new" / "warehouse.duckdb")  # the folder is made
    with duckdb.connect(str(store.path), read_only=True) as con:
        columns = con.execute("SELECT table_name, list(column_name ORDER BY column_index) FROM duckdb_columns() "
                              "WHERE schema_name = 'finetune' GROUP BY table_name").fetchall()
        keys = con.execute("SELECT table_name, constraint_column_names FROM duckdb_constraints() "
                           "WHERE schema_name = 'finetune' AND constraint_type = 'PRIMARY KEY'").fetchall()
    assert dict(columns) == {table: [name for name, _ in spec] for table, spec in FINETUNE_TABLES.items()}
    assert {table: tuple(names) for table, names in keys} == FINETUNE_KEYS


def test_an_older_warehouse_keeps_its_rows_and_gains_the_missing_columns_and_tables(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:  # as a version before mutator kinds and the evaluation cache
        con.execute("CREATE SCHEMA finetune")
        con.execute("CREATE TABLE finetune.eval_runs (evaluation_id BIGINT PRIMARY KEY, dataset_name VARCHAR, "
                    "mutators VARCHAR[], examples BIGINT, example_limit BIGINT, target VARCHAR, endpoint VARCHAR, "
                    "started_at TIMESTAMP, finished_at TIMESTAMP, report_path VARCHAR)")
        con.execute("INSERT INTO finetune.eval_runs VALUES (1, 'demo', ['reference'], 42, NULL, NULL, NULL, "
                    "'2024-05-01 12:00:00', '2024-05-01 12:01:00', 'data/reports/demo/evaluation.html')")
    store = Store(path)
    assert store.query("SELECT evaluation_id, dataset_name, mutators, examples, mutator_kinds, mutator_models "
                       "FROM finetune.eval_runs") == [(1, "demo", ["reference"], 42, None, None)]
    assert store.query("SELECT count(*) FROM finetune.eval_cache") == [(0,)]
    with store.transaction() as con:  # the old key still makes writes upserts (the columns not given stay)
        Store.upsert(con, "eval_runs", {"evaluation_id": 1, "dataset_name": "demo", "mutators": ["reference"],
                                        "mutator_kinds": ["reference"], "examples": 43,
                                        "started_at": datetime(2024, 5, 2)})
    assert store.query("SELECT examples, mutator_kinds, started_at, report_path FROM finetune.eval_runs") == [
        (43, ["reference"], datetime(2024, 5, 2), "data/reports/demo/evaluation.html")]
    Store(path)  # idempotent
    assert store.query("SELECT count(*) FROM finetune.eval_runs") == [(1,)]
