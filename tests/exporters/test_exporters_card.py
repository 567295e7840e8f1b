"""The dataset card (README.md of an export): YAML header, counts per split and strategy, every file's
example count and sha256, sources and settings from the warehouse."""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from exporters_fixtures import build_warehouse

from exporters.export import export_dataset


@pytest.fixture
def warehouse(tmp_path):
    return build_warehouse(tmp_path / "warehouse.duckdb")


def card(directory: Path) -> tuple[dict, str]:
    text = (directory / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    header, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(header), body


def file_rows(body: str) -> dict[str, tuple[str, str]]:
    return {name: (examples, sha) for name, examples, sha in
            re.findall(r"^\| `([^`]+)` \| ([0-9-]+) \| `([0-9a-f]{64})` \|$", body, flags=re.MULTILINE)}


def test_card_header_counts_and_hashes(warehouse, tmp_path):
    export_dataset(warehouse, "demo", tmp_path, quiet=True)
    directory = tmp_path / "demo"
    header, body = card(directory)
    assert header["license"] == "other"
    assert header["task_categories"] == ["text-generation"]
    assert header["tags"] == ["sql", "code", "pinolo", "logic-bugs", "query-mutation", "mariadb", "mysql"]
    assert header["configs"] == [{"config_name": "default", "data_files": [
        {"split": "train", "path": "train.jsonl"}, {"split": "validation", "path": "validation.jsonl"},
        {"split": "test", "path": "test.jsonl"}]}]
    files = file_rows(body)
    expected_counts = {"train": "3", "validation": "1", "test": "1"}
    assert sorted(files) == sorted(f"{split}{suffix}" for split in expected_counts
                                   for suffix in (".jsonl", ".meta.jsonl"))
    for name, (examples, sha) in files.items():
        assert examples == expected_counts[name.split(".")[0]]
        assert sha == hashlib.sha256((directory / name).read_bytes()).hexdigest(), name
    assert "5 examples: 4 real, 1 synthetic" in body
    assert "| FixMDistinctL | 2 + 0 | 1 + 0 | 1 + 0 | 4 + 0 |" in body
    assert "| FixMWhere1U | 0 + 1 | 0 + 0 | 0 + 0 | 0 + 1 |" in body
    assert "| total | 2 + 1 | 1 + 0 | 1 + 0 | 4 + 1 |" in body
    assert "Examples per DBMS: mariadb 2, mysql 3." in body
    # sources: the real examples' provenance (the fixture's rows carry no source root)
    assert "- (root not recorded) run `output1` on mariadb\n- (root not recorded) run `output1` on mysql\n" in body
    assert "Mutation engine: not recorded in the warehouse." in body
    assert "load_dataset(\"json\", data_files={'train': 'train.jsonl', 'validation': 'validation.jsonl', " \
           "'test': 'test.jsonl'})" in body


def test_card_lists_the_other_formats_and_the_config(warehouse, tmp_path):
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("CREATE SCHEMA raw")
        con.execute("CREATE TABLE raw.dataset_configs (dataset_name VARCHAR, strategy VARCHAR, dbms VARCHAR[], "
                    "quota INTEGER, form VARCHAR, seed BIGINT, top_up BOOLEAN, loaded_at TIMESTAMP)")
        con.execute("INSERT INTO raw.dataset_configs VALUES "
                    "('demo', 'FixMDistinctL', ['mysql'], 5, 'raw', 1, false, '2026-01-01'), "
                    "('demo', 'FixMDistinctL', ['mysql', 'mariadb'], 4, 'sqlsim', 42, true, '2026-02-01'), "
                    "('demo', 'FixMWhere1U', ['mysql', 'mariadb'], NULL, 'sqlsim', 42, true, '2026-02-01')")
        con.execute("CREATE TABLE raw.mutation_verdicts (engine_version VARCHAR)")
        con.execute("INSERT INTO raw.mutation_verdicts VALUES ('mutations 0.2.0'), ('mutations 0.1.0'), (NULL)")
    finally:
        con.close()
    export_dataset(warehouse, "demo", tmp_path, quiet=True, formats=["hf", "llamafactory"])
    directory = tmp_path / "demo"
    _, body = card(directory)
    files = file_rows(body)
    assert files["hf/train.parquet"][0] == "3" and files["hf/validation.parquet"][0] == "1"
    assert files["llamafactory/dataset_info.json"][0] == "-"  # a config file has no examples
    assert len(files) == 6 + 3 + 4
    for name, (_, sha) in files.items():
        assert sha == hashlib.sha256((directory / name).read_bytes()).hexdigest(), name
    # the latest load of the config only; quota differs per strategy, the rest is shared
    settings = body.split("## Selection settings", 1)[1].split("## Counts", 1)[0]
    assert re.findall(r"^- (.+)$", settings, flags=re.MULTILINE) == [
        "strategies: FixMDistinctL, FixMWhere1U", "quota: FixMDistinctL: 4, FixMWhere1U: null", "form: sqlsim",
        "seed: 42", "top_up: true", "dbms: mysql, mariadb"]
    assert "Mutation engine: `mutations 0.1.0`, `mutations 0.2.0`." in body
    assert 'load_dataset("parquet", data_dir="hf")' in body


def test_card_is_the_same_bytes_on_a_rerun(warehouse, tmp_path):
    export_dataset(warehouse, "demo", tmp_path, quiet=True)
    first = (tmp_path / "demo" / "README.md").read_bytes()
    export_dataset(warehouse, "demo", tmp_path, quiet=True, threads=1, batch_size=1)
    assert (tmp_path / "demo" / "README.md").read_bytes() == first
