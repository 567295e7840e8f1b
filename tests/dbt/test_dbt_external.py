"""Pairs from outside PINOLO (`ingest pairs`, examples/external-pairs.jsonl) through transform and export:
deduplicated and selected like PINOLO's, labelled with their source in marts.pairs, marts.dataset_examples,
the export's sidecars and its dataset card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dbt_fixtures import ROOT, dbt_build, query

from exporters.export import export_dataset
from ingest.datasets import load_datasets
from ingest.external import load_external_pairs

STRATEGIES = ["FixMCmpOpU", "FixMWhere0L", "FixMDistinctL", "RdMLikeL", "FixMHaving1U"]
DATASET = f"""dbms: [mysql, mariadb, tidb]
strategies: [{', '.join(STRATEGIES)}]
quota: 10
max_length: 3000
form: sqlsim
splits: {{train: 0.8, validation: 0.1, test: 0.1}}
seed: 7
top_up: false
require_conforming: true
"""


@pytest.fixture(scope="module")
def transformed(tmp_path_factory):
    work = tmp_path_factory.mktemp("dbt-external")
    warehouse = work / "warehouse.duckdb"
    report = load_external_pairs(warehouse, ROOT / "examples" / "external-pairs.jsonl", "pinolo-bugs")
    assert report.stored == 5
    datasets = work / "datasets"
    datasets.mkdir()
    (datasets / "outside.yml").write_text(DATASET)
    load_datasets(warehouse, datasets)
    dbt_build(warehouse, work)
    return warehouse, work


def test_external_pairs_reach_marts_pairs_with_their_source(transformed):
    warehouse, _ = transformed
    source_file = str((ROOT / "examples" / "external-pairs.jsonl").resolve())
    assert query(warehouse, "select strategy, dbms, source, source_root, relative_path, is_synthetic, conforms, "
                            "occurrences, original_sqlsim is null, run is null from marts.pairs order by strategy") == [
        ("FixMCmpOpU", "mysql", "pinolo-bugs", source_file, "external-pairs.jsonl:1", False, True, 1, True, True),
        ("FixMDistinctL", "tidb", "pinolo-bugs", source_file, "external-pairs.jsonl:3", False, True, 1, True, True),
        ("FixMHaving1U", "mariadb", "pinolo-bugs", source_file, "external-pairs.jsonl:8", False, True, 1, True, True),
        ("FixMWhere0L", "mariadb", "pinolo-bugs", source_file, "external-pairs.jsonl:2", False, True, 1, True, True),
        ("RdMLikeL", "mysql", "pinolo-bugs", source_file, "external-pairs.jsonl:4", False, True, 1, True, True),
    ]
    # stored the right way round: the texts are the swapped ones
    assert query(warehouse, "select original_sql, mutated_sql from marts.pairs where strategy = 'FixMDistinctL'") == [
        ("select t0.c0 from t0 join t1 on t0.c0 = t1.c1", "select distinct t0.c0 from t0 join t1 on t0.c0 = t1.c1")]


def test_external_pairs_are_selected_and_exported_with_their_source(transformed, tmp_path):
    warehouse, _ = transformed
    assert query(warehouse, "select strategy, source, content_form, user_content is not null from "
                            "marts.dataset_examples order by strategy") == [
        (strategy, "pinolo-bugs", "raw", True) for strategy in sorted(STRATEGIES)]
    export_dataset(warehouse, "outside", tmp_path, quiet=True)
    folder = tmp_path / "outside"
    metas = [json.loads(line) for split in ("train", "validation", "test")
             for line in (folder / f"{split}.meta.jsonl").read_text().splitlines()]
    assert sorted((m["strategy"], m["provenance"]["source"], m["provenance"]["relative_path"]) for m in metas) == [
        ("FixMCmpOpU", "pinolo-bugs", "external-pairs.jsonl:1"),
        ("FixMDistinctL", "pinolo-bugs", "external-pairs.jsonl:3"),
        ("FixMHaving1U", "pinolo-bugs", "external-pairs.jsonl:8"),
        ("FixMWhere0L", "pinolo-bugs", "external-pairs.jsonl:2"),
        ("RdMLikeL", "pinolo-bugs", "external-pairs.jsonl:4"),
    ]
    card = (folder / "README.md").read_text()
    assert "Pairs from outside PINOLO (loaded with `pinoloft ingest pairs`" in card
    assert "- `pinolo-bugs`: 5 examples" in card
    assert "No real example" not in card
