"""`dbt build` on an empty raw schema (every raw table present, no rows), `dbt docs generate` offline, and
the profile's default warehouse path from both ways of calling dbt."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dbt_fixtures import PROJECT, ROOT, create_raw_schema, dbt, dbt_build, query

MARTS = ["pairs", "dataset_candidates", "dataset_examples", "dataset_coverage", "validation_results",
         "validation_executability", "validation_errors", "strategy_coverage"]


@pytest.fixture(scope="module")
def empty(tmp_path_factory):
    work = tmp_path_factory.mktemp("dbt-empty")
    warehouse = work / "warehouse.duckdb"
    create_raw_schema(warehouse)
    done = dbt_build(warehouse, work)
    return warehouse, work, done


def test_build_passes_on_an_empty_raw_schema(empty):
    warehouse, _, done = empty
    assert "ERROR=0" in done.stdout and "WARN=0" in done.stdout
    for mart in MARTS[:-1]:
        assert query(warehouse, f"select count(*) from marts.{mart}") == [(0,)]
    # Coverage still lists the 18 strategies for the 4 DBMSs, all zero.
    assert query(warehouse, "select count(*), sum(reports + distinct_pairs + synthetic_pairs)"
                            " from marts.strategy_coverage") == [(72, 0)]


def test_schemas_are_exactly_staging_intermediate_marts_and_seeds(empty):
    warehouse, _, _ = empty
    rows = query(warehouse, "select table_schema, count(*) from information_schema.tables"
                            " where table_schema <> 'raw' group by all order by 1")
    assert rows == [("intermediate", 12), ("marts", 8), ("seeds", 2), ("staging", 16)]
    kinds = query(warehouse, "select distinct table_schema, table_type from information_schema.tables"
                             " where table_schema in ('staging', 'intermediate', 'marts') order by 1")
    assert kinds == [("intermediate", "VIEW"), ("marts", "BASE TABLE"), ("staging", "VIEW")]


def test_docs_generate_works_offline(empty):
    warehouse, work, _ = empty
    done = dbt("docs generate", warehouse, work)
    assert done.returncode == 0, done.stdout[-3000:]
    assert (work / "target" / "catalog.json").is_file()
    assert (work / "target" / "index.html").is_file()


def test_every_model_is_documented_and_key_tested(empty):
    import json

    _, work, _ = empty
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    models = {n["unique_id"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    tested = set()
    for node in manifest["nodes"].values():
        name = (node.get("test_metadata") or {}).get("name")
        if node["resource_type"] == "test" and name in ("unique", "unique_combination_of_columns", "primary_key"):
            tested.update(d for d in node["depends_on"]["nodes"] if d in models)
    assert len(models) == 36
    assert sorted(m["name"] for m in models.values() if not m["description"].strip()) == []
    assert sorted(models[m]["name"] for m in set(models) - tested) == []


PINOLO_TABLES = ["bug_reports", "data_sqls", "pool_results", "task_configs", "task_log_bugs", "task_results", "tasks"]
PINOLOFT_TABLES = ["dataset_configs", "external_pairs", "ingest_files", "ingest_quarantine", "ingest_runs",
                   "mutation_verdicts", "synthetic_pairs", "validation_invocations", "validation_runs"]


def test_sources_split_pinolo_output_from_pinoloft_bookkeeping_and_only_staging_reads_them(empty):
    import json

    _, work, _ = empty
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    sources = {}
    for source in manifest["sources"].values():
        sources.setdefault(source["source_name"], []).append(source["name"])
    assert {name: sorted(tables) for name, tables in sources.items()} == {
        "pinolo": PINOLO_TABLES, "pinoloft": PINOLOFT_TABLES}
    models = [node for node in manifest["nodes"].values() if node["resource_type"] == "model"]
    readers = {model["name"]: [d.removeprefix("source.pinoloft.") for d in model["depends_on"]["nodes"]
                               if d.startswith("source.")] for model in models}
    readers = {name: read for name, read in readers.items() if read}
    # one staging view per raw table, named after its source, in the folder of its source; no other model
    assert readers == {f"stg_{source}__{table}": [f"{source}.{table}"]
                       for source, tables in (("pinolo", PINOLO_TABLES), ("pinoloft", PINOLOFT_TABLES))
                       for table in tables}
    paths = {model["name"]: model["original_file_path"] for model in models if model["name"] in readers}
    assert all(path == f"../models/staging/{name.split('__')[0].removeprefix('stg_')}/{name}.sql"
               for name, path in paths.items())


def test_default_warehouse_path_resolves_from_both_invocations(tmp_path):
    """Without PINOLOFT_WAREHOUSE, both ways of calling dbt open <repo>/data/warehouse.duckdb."""
    repo = tmp_path / "repo"
    shutil.copytree(PROJECT, repo / "dbt_project", ignore=shutil.ignore_patterns("target", "logs"))
    shutil.copytree(ROOT / "models", repo / "models")
    (repo / "data").mkdir()
    create_raw_schema(repo / "data" / "warehouse.duckdb")
    env = {k: v for k, v in os.environ.items() if k != "PINOLOFT_WAREHOUSE"}
    env.update(DBT_SEND_ANONYMOUS_USAGE_STATS="False", DBT_NO_VERSION_CHECK="True")
    executable = str(Path(sys.executable).with_name("dbt"))
    for cwd, args in ((repo / "dbt_project", ["--profiles-dir", "."]),
                      (repo, ["--project-dir", "dbt_project", "--profiles-dir", "dbt_project"])):
        done = subprocess.run([executable, "run", "--select", "stg_pinoloft__ingest_runs", *args], cwd=cwd,
                              env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout[-3000:]
        assert query(repo / "data" / "warehouse.duckdb",
                     "select count(*) from information_schema.tables where table_schema = 'staging'") == [(1,)]
        assert not (tmp_path / "data").exists() and not (repo / "dbt_project" / "data").exists()
