"""The main job end to end on the bundled sample, as `make demo` runs it: ingest, transform, export.

Real components only: the `pinoloft` command in subprocesses, a real DuckDB file, a real `dbt build`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "pinolo-output"
LEAKED_PASSWORD = "Pinolo@2023!db"  # the generator's config_password fault


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(args), cwd=ROOT, capture_output=True, text=True, timeout=600,
                            env={**os.environ, **(env or {})})
    assert result.returncode == 0, f"{args}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo")
    warehouse = work / "warehouse.duckdb"
    exports = work / "exports"
    pinoloft = ["-m", "pinoloft", "--quiet", "--warehouse", str(warehouse)]
    python = sys.executable
    first = run(python, *pinoloft, "ingest", "--root", str(SAMPLE))
    second = run(python, *pinoloft, "ingest", "--root", str(SAMPLE))
    check = run(python, *pinoloft, "check")
    run(python, *pinoloft, "transform", "--datasets-dir", str(ROOT / "datasets"))
    export = run(python, *pinoloft, "export", "--dataset", "demo", "--out", str(exports))
    return {"warehouse": warehouse, "exports": exports / "demo", "first": first, "second": second,
            "check": check, "export": export}


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_ingest_reconciles_and_a_rerun_reads_nothing(demo):
    assert "files seen 1157 = loaded 1123 + quarantined 34 + skipped as unchanged 0; vanished 0" in demo["first"].stderr
    assert "files seen 1157 = loaded 0 + quarantined 0 + skipped as unchanged 1157; vanished 0" in demo["second"].stderr


def test_every_fault_of_the_manifest_is_quarantined_or_flagged(demo):
    manifest = json.loads((SAMPLE / "pinoloft-faults.json").read_text())
    quarantined = {path for (path,) in query(demo["warehouse"], "SELECT relative_path FROM raw.ingest_quarantine")}
    for entry in manifest["entries"]:
        kind, first_path = entry["kind"], entry["paths"][0]
        if kind in {"truncated_json", "empty_json", "invalid_utf8", "unknown_mutation", "json_without_log",
                    "orphan_sqlsim", "non_select_drop", "non_select_multi", "killed_task"}:
            assert first_path in quarantined, (kind, first_path)
    assert query(demo["warehouse"], "SELECT count(*) FROM raw.task_configs WHERE password_removed") == [(1,)]


def test_secrets_never_reach_the_warehouse_or_the_exports(demo):
    assert LEAKED_PASSWORD.encode() not in demo["warehouse"].read_bytes()
    for path in demo["exports"].iterdir():
        assert LEAKED_PASSWORD not in path.read_text(encoding="utf-8")
    assert LEAKED_PASSWORD not in demo["first"].stderr + demo["first"].stdout


def test_export_files_and_meta_line_up(demo):
    for split in ("train", "validation", "test"):
        data = (demo["exports"] / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
        meta = (demo["exports"] / f"{split}.meta.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(data) == len(meta) > 0
        for line, sidecar in zip(data, meta, strict=True):
            example, info = json.loads(line), json.loads(sidecar)
            roles = [message["role"] for message in example["messages"]]
            assert roles == ["system", "user", "assistant"] and info["split"] == split
            assert example["messages"][0]["content"].startswith("You are an expert in ")
    counts = {split: len((demo["exports"] / f"{split}.jsonl").read_text().splitlines())
              for split in ("train", "validation", "test")}
    assert counts == {"train": 87, "validation": 7, "test": 14}
    assert "demo: 108 examples (train 87, validation 7, test 14)" in demo["export"].stdout + demo["export"].stderr


def test_splits_share_no_original_query(demo):
    rows = query(demo["warehouse"], """
        SELECT original_fingerprint, count(DISTINCT split) FROM marts.dataset_examples
        WHERE dataset_name = 'demo' GROUP BY 1 HAVING count(DISTINCT split) > 1""")
    assert rows == []


README_QUERIES = re.compile(r"```sql\n(.*?)```", re.DOTALL)


def test_the_readme_ad_hoc_queries_run_on_the_demo_warehouse(demo):
    queries = README_QUERIES.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    # the validation marts fill only after `make validate` (tests/validation runs those queries)
    queries = [sql for sql in queries if "marts.validation_" not in sql]
    assert len(queries) == 8
    for sql in queries:
        assert query(demo["warehouse"], sql), sql  # every question has an answer on the demo data
