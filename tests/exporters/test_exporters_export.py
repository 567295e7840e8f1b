"""`export` from a small warehouse built here: exact files, sidecar order, idempotence, read-only, overlap."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from exporters import export as export_module
from exporters.check import check_file
from exporters.errors import DatasetNotFoundError, ExportersError, WarehouseBusyError, WarehouseError
from exporters.export import export_dataset, export_datasets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from exporters_fixtures import (
    DDL,
    ROWS,
    SYSTEM_MARIADB,
    SYSTEM_MYSQL,
    build_warehouse,
    file_state,
    insert_rows,
    read_jsonl,
)

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "exporters", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=False)

TRAIN_JSONL = (
    '{"messages": [{"role": "system", "content": "You are an expert in MySQL statement mutation.Add DISTINCT."}, '
    '{"role": "user", "content": "SELECT 1"}, {"role": "assistant", "content": "SELECT DISTINCT 1"}]}\n'
    '{"messages": [{"role": "system", "content": "You are an expert in MySQL statement mutation.Add DISTINCT."}, '
    '{"role": "user", "content": "SELECT \'é\'\\nFROM \\"t\\""}, '
    '{"role": "assistant", "content": "SELECT \'é\'\\nFROM \\"t\\" WHERE 1"}]}\n'
    '{"messages": [{"role": "system", "content": "You are an expert in MariaDB statement mutation.Add DISTINCT."}, '
    '{"role": "user", "content": "SELECT 2"}, {"role": "assistant", "content": "SELECT DISTINCT 2"}]}\n'
)
OUTPUT_FILES = ["README.md", "report.html", "report.json", "report.md", "test.jsonl", "test.meta.jsonl",
                "train.jsonl", "train.meta.jsonl",
                "validation.jsonl", "validation.meta.jsonl"]


@pytest.fixture()
def warehouse(tmp_path):
    return build_warehouse(tmp_path / "warehouse.duckdb")


def test_files_are_exact(warehouse, tmp_path):
    result = export_dataset(warehouse, "demo", tmp_path / "exports", quiet=True)
    directory = tmp_path / "exports" / "demo"
    assert result.directory == directory
    assert sorted(p.name for p in directory.iterdir()) == OUTPUT_FILES
    assert (directory / "train.jsonl").read_text(encoding="utf-8") == TRAIN_JSONL
    assert (directory / "validation.jsonl").read_text(encoding="utf-8") == (
        '{"messages": [{"role": "system", "content": "' + SYSTEM_MYSQL + '"}, '
        '{"role": "user", "content": "SELECT 4"}, {"role": "assistant", "content": "SELECT DISTINCT 4"}]}\n')
    assert (directory / "test.jsonl").read_text(encoding="utf-8") == (
        '{"messages": [{"role": "system", "content": "' + SYSTEM_MARIADB + '"}, '
        '{"role": "user", "content": "SELECT 5"}, {"role": "assistant", "content": "SELECT DISTINCT 5"}]}\n')
    assert result.split_counts == {"train": 3, "validation": 1, "test": 1}
    assert result.n_format_errors == 0


def test_meta_lines_follow_data_lines(warehouse, tmp_path):
    export_dataset(warehouse, "demo", tmp_path, quiet=True)
    directory = tmp_path / "demo"
    for split, ids in (("train", ["ex-1", "ex-2", "ex-3"]), ("validation", ["ex-4"]), ("test", ["ex-5"])):
        data = read_jsonl(directory / f"{split}.jsonl")
        meta = read_jsonl(directory / f"{split}.meta.jsonl")
        assert [m["example_id"] for m in meta] == ids
        assert [m["line"] for m in meta] == list(range(1, len(ids) + 1))
        rows = {row[1]: row for row in ROWS if row[0] == "demo"}
        assert [d["messages"][1]["content"] for d in data] == [rows[i][8] for i in ids]
    second = read_jsonl(directory / "train.meta.jsonl")[1]
    assert second == {
        "example_id": "ex-2",
        "dataset": "demo",
        "split": "train",
        "line": 2,
        "position": 1,
        "dbms": "mysql",
        "strategy": "FixMWhere1U",
        "is_upper": True,
        "is_synthetic": True,
        "validation_status": "not validated",
        "content_form": None,  # optional columns: NULL when the mart lacks them
        "stability": None,
        "occurrences": None,
        "provenance": {"source": None, "source_root": None, "run": "output1", "task": "task-3", "bug_id": 11,
                       "sql_id": 21, "relative_path": "output1/mysql/task-3/bugs/bug-ex-2.json", "pair_id": "pair-ex-2",
                       "pair_hash": None, "original_fingerprint": "fp-3"},
        "lengths": {"system": 59, "user": 19, "assistant": 27},
        # 3 x 3 + 3 roles + 3 priming + system 12 + user 8 + assistant 11
        "tokens": {"total": 46, "system": 12, "user": 8, "assistant": 11},
        "over_token_limit": False,
        "format_errors": [],
    }


def test_optional_mart_columns_reach_the_sidecar(warehouse, tmp_path):
    con = duckdb.connect(str(warehouse))
    con.execute("ALTER TABLE marts.dataset_examples ADD COLUMN content_form VARCHAR DEFAULT 'sqlsim'")
    con.execute("ALTER TABLE marts.dataset_examples ADD COLUMN pair_hash VARCHAR DEFAULT 'h'")
    con.execute("ALTER TABLE marts.dataset_examples ADD COLUMN stability VARCHAR DEFAULT 'maystable'")
    con.close()
    export_dataset(warehouse, "demo", tmp_path, quiet=True)
    meta = read_jsonl(tmp_path / "demo" / "train.meta.jsonl")[0]
    assert (meta["content_form"], meta["stability"], meta["occurrences"]) == ("sqlsim", "maystable", None)
    assert (meta["provenance"]["pair_hash"], meta["provenance"]["source_root"]) == ("h", None)
    assert (tmp_path / "demo" / "train.jsonl").read_text(encoding="utf-8") == TRAIN_JSONL


def test_report_figures(warehouse, tmp_path):
    result = export_dataset(warehouse, "demo", tmp_path, quiet=True)
    report = json.loads((tmp_path / "demo" / "report.json").read_text())
    assert report == result.report
    train = report["splits"]["train"]
    assert train["n_examples"] == 3
    assert train["distributions"]["total_tokens"] == {"min": 34, "max": 46, "mean": 38.0, "median": 34,
                                                      "p5": 34, "p95": 46}
    assert train["distributions"]["assistant_tokens"] == {"min": 4, "max": 11, "mean": 19 / 3, "median": 4,
                                                          "p5": 4, "p95": 11}
    assert (train["n_epochs"], train["billing_tokens"], train["estimated_cost_usd"]) == (25, 25 * 114, 0.00855)
    assert report["training"] == {"n_examples": 3, "n_epochs": 25, "billing_tokens": 2850,
                                  "estimated_cost_usd": 0.00855}
    total = report["total"]
    assert (total["n_examples"], total["n_epochs"], total["billing_tokens"]) == (5, 20, 20 * 182)
    assert total["extra"]["counts"]["by_strategy_dbms"] == {"FixMDistinctL": {"mariadb": 2, "mysql": 2},
                                                            "FixMWhere1U": {"mysql": 1}}
    assert report["counts"]["by_strategy_dbms"] == [
        {"strategy": "FixMDistinctL", "dbms": "mariadb", "train": 1, "validation": 0, "test": 1, "total": 2},
        {"strategy": "FixMDistinctL", "dbms": "mysql", "train": 1, "validation": 1, "test": 0, "total": 2},
        {"strategy": "FixMWhere1U", "dbms": "mysql", "train": 1, "validation": 0, "test": 0, "total": 1},
    ]
    assert report["counts"]["is_synthetic"] == {"train": {"false": 2, "true": 1}, "validation": {"false": 1},
                                                "test": {"false": 1}}
    assert report["overlap"] == {"user_content": {"train/validation": 0, "train/test": 0, "validation/test": 0},
                                 "original_fingerprint": {"train/validation": 0, "train/test": 0,
                                                          "validation/test": 0}}
    assert [warning["message"] for warning in report["warnings"]][0] == \
        "train.jsonl: only 3 valid example(s): fine-tuning needs at least 10"  # the rest: test_exporters_report.py
    files = report["files"]
    assert files["train.jsonl"]["examples"] == 3
    assert files["train.jsonl"]["bytes"] == len(TRAIN_JSONL.encode("utf-8"))
    markdown = (tmp_path / "demo" / "report.md").read_text()
    assert markdown.startswith("# Export `demo`\n")
    assert "| total tokens |" not in markdown and "**total tokens per example**" in markdown
    # the same check on the written file gives the same figures
    assert check_file(tmp_path / "demo" / "train.jsonl", quiet=True).to_json()["distributions"] == \
        train["distributions"]


def test_rerun_is_byte_identical(warehouse, tmp_path):
    export_dataset(warehouse, "demo", tmp_path, quiet=True)
    first = {p.name: p.read_bytes() for p in (tmp_path / "demo").iterdir()}
    export_dataset(warehouse, "demo", tmp_path, threads=1, batch_size=1, quiet=True)
    second = {p.name: p.read_bytes() for p in (tmp_path / "demo").iterdir()}
    assert first == second
    assert sorted(second) == OUTPUT_FILES  # no temporary files left behind


def test_warehouse_is_opened_read_only(warehouse, tmp_path):
    before = file_state(warehouse)
    siblings = sorted(p.name for p in warehouse.parent.iterdir())
    holder = duckdb.connect(str(warehouse), read_only=True)  # a reader holding the file does not block us
    try:
        export_dataset(warehouse, "demo", tmp_path / "out", quiet=True)
        done = run("-q", "export", "--dataset", "demo", "--warehouse", str(warehouse), "--out", str(tmp_path / "out2"))
        assert done.returncode == 0, done.stderr
    finally:
        holder.close()
    assert file_state(warehouse) == before
    assert sorted(p.name for p in warehouse.parent.iterdir()) == sorted([*siblings, "out", "out2"])  # no .wal
    assert (tmp_path / "out" / "demo" / "train.jsonl").read_bytes() == \
        (tmp_path / "out2" / "demo" / "train.jsonl").read_bytes()


def test_writer_holding_the_file_gives_a_clear_error(warehouse, tmp_path):
    """This test's process holds the write lock; the CLI, a second process, exits 3 (warehouse in use)."""
    writer = duckdb.connect(str(warehouse))
    try:
        done = run("-q", "export", "--dataset", "demo", "--warehouse", str(warehouse), "--out", str(tmp_path / "out"))
    finally:
        writer.close()
    assert (done.returncode, done.stderr) == (
        3, f"error: the warehouse {warehouse} is in use by another process (PID {os.getpid()}); wait for it or close "
        "it\n")
    assert not (tmp_path / "out").exists()


def test_writer_in_another_process_is_a_busy_warehouse_for_the_library(warehouse, tmp_path):
    hold = "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('holding', flush=True); sys.stdin.read()"
    holder = subprocess.Popen([sys.executable, "-c", hold, str(warehouse)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "holding\n"
        with pytest.raises(WarehouseBusyError) as caught:
            export_dataset(warehouse, "demo", tmp_path, quiet=True)
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert caught.value.exit_code == 3
    assert str(caught.value) == (f"the warehouse {warehouse} is in use by another process (PID {holder.pid}); "
                                 "wait for it or close it")


def test_overlap_across_splits_is_reported(warehouse, tmp_path):
    result = export_dataset(warehouse, "leaky", tmp_path, quiet=True)
    assert result.overlap == {"user_content": {"train/validation": 0, "train/test": 1, "validation/test": 0},
                              "original_fingerprint": {"train/validation": 0, "train/test": 1,
                                                       "validation/test": 0}}
    assert "1 example(s) duplicate an example of another split" in result.warnings
    assert "1 user content(s) appear in both train and test" in result.warnings
    assert "1 original fingerprint(s) appear in both train and test" in result.warnings


def test_missing_dataset_lists_the_existing_ones(warehouse, tmp_path):
    with pytest.raises(DatasetNotFoundError) as caught:
        export_dataset(warehouse, "nope", tmp_path, quiet=True)
    assert caught.value.available == ["demo", "leaky"]
    assert str(caught.value) == ("dataset 'nope' not found in marts.dataset_examples; "
                                 "datasets that exist: demo, leaky")
    assert not (tmp_path / "nope").exists()
    done = run("export", "--dataset", "nope", "--warehouse", str(warehouse), "--out", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().endswith("datasets that exist: demo, leaky")


def test_missing_warehouse_table_and_columns(tmp_path):
    with pytest.raises(WarehouseError, match="no warehouse at"):
        export_dataset(tmp_path / "absent.duckdb", "demo", tmp_path, quiet=True)
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(WarehouseError, match="marts.dataset_examples does not exist"):
        export_dataset(empty, "demo", tmp_path, quiet=True)
    narrow = tmp_path / "narrow.duckdb"
    con = duckdb.connect(str(narrow))
    con.execute(DDL)
    con.execute("ALTER TABLE marts.dataset_examples DROP COLUMN is_synthetic")
    con.close()
    with pytest.raises(WarehouseError, match="lacks column\\(s\\) is_synthetic"):
        export_dataset(narrow, "demo", tmp_path, quiet=True)
    with pytest.raises(ExportersError, match="cannot be used as a folder name"):
        export_dataset(narrow, "../escape", tmp_path, quiet=True)


def test_bad_split_and_empty_split(tmp_path):
    warehouse = build_warehouse(tmp_path / "w.duckdb", [row for row in ROWS if row[0] == "demo" and row[2] != "test"])
    result = export_dataset(warehouse, "demo", tmp_path / "out", quiet=True)
    assert (tmp_path / "out" / "demo" / "test.jsonl").read_bytes() == b""
    assert result.report["splits"]["test"]["n_examples"] == 0
    con = duckdb.connect(str(warehouse))
    insert_rows(con, [("demo", "ex-9", "holdout", 0, "mysql", "FixMDistinctL", False, SYSTEM_MYSQL, "SELECT 9",
                       "SELECT DISTINCT 9", "fp-9", False)])
    con.close()
    with pytest.raises(WarehouseError, match="1 example\\(s\\) with split 'holdout'"):
        export_dataset(warehouse, "demo", tmp_path / "out", quiet=True)


def test_failed_export_leaves_previous_files(warehouse, tmp_path, monkeypatch):
    export_dataset(warehouse, "demo", tmp_path, quiet=True)
    before = {p.name: p.read_bytes() for p in (tmp_path / "demo").iterdir()}

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export_module, "export_markdown", broken)
    con = duckdb.connect(str(warehouse))
    con.execute("UPDATE marts.dataset_examples SET user_content = 'SELECT 100' WHERE example_id = 'ex-1'")
    con.close()
    with pytest.raises(RuntimeError, match="disk full"):
        export_dataset(warehouse, "demo", tmp_path, quiet=True)
    assert {p.name: p.read_bytes() for p in (tmp_path / "demo").iterdir()} == before


def test_null_content_is_exported_and_flagged(tmp_path):
    rows = [("demo", "ex-1", "train", 0, "mysql", "FixMDistinctL", False, SYSTEM_MYSQL, "SELECT 1", None,
             "fp-1", False)]
    warehouse = build_warehouse(tmp_path / "w.duckdb", rows)
    result = export_dataset(warehouse, "demo", tmp_path / "out", quiet=True)
    assert result.n_format_errors == 1
    assert result.report["splits"]["train"]["format_errors"]["missing_content"] == 1
    meta = read_jsonl(tmp_path / "out" / "demo" / "train.meta.jsonl")[0]
    assert meta["format_errors"] == ["missing_content"]
    assert meta["tokens"] == {"total": None, "system": None, "user": None, "assistant": None}
    done = run("-q", "export", "-d", "demo", "-w", str(warehouse), "-o", str(tmp_path / "out"))
    assert done.returncode == 1
    assert "FORMAT ERRORS: 1" in done.stdout


def test_export_all_datasets_by_default(warehouse, tmp_path):
    results = export_datasets(warehouse, None, tmp_path, quiet=True)
    assert [r.dataset for r in results] == ["demo", "leaky"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["demo", "leaky", "warehouse.duckdb"])
    assert os.path.getsize(tmp_path / "leaky" / "train.jsonl") > 0
    assert [r.dataset for r in export_datasets(warehouse, [""], tmp_path / "again", quiet=True)] == ["demo", "leaky"]


def test_fast_line_equals_json_dumps():
    texts = ["SELECT 1", "", "a\"b\\c", "tab\tnew\nline\r", "\x00\x1f\x7f", "é中文😀", "\u2028\u2029", "\ud800 lone",
             "</script>", "<|endoftext|>", "'single'"]
    for system in texts[:3]:
        for user in texts:
            for assistant in texts:
                row = {"system_prompt": system, "user_content": user, "assistant_content": assistant}
                assert export_module._line(row) == json.dumps(export_module._example(row), ensure_ascii=False)
    row = {"system_prompt": "s", "user_content": None, "assistant_content": 3}
    assert export_module._line(row) == json.dumps(export_module._example(row), ensure_ascii=False)
