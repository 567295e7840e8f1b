"""Ingest's worker processes and the rows they stage: workers never import pandas (pyarrow would, at a cost
in every worker), and a unit's staged files hold exactly the rows the loader inserts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingest.discover import discover
from ingest.readers import read_unit
from ingest.schema import arrow_schema
from ingest_helpers import rows

REPO = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter, so that no other test's imports decide whether pandas is already loaded.
WORKER_PROBE = r"""
import json, sys
from ingest.parallel import WorkerPool

def probe(_):
    import pyarrow as pa
    converted = pa.array(["a", None, "é"], pa.string()).to_pylist()
    try:
        import pandas  # noqa: F401
        importable = True
    except ImportError:
        importable = False
    return {"converted": converted, "pandas_importable": importable, "pandas_loaded": "pandas" in sys.modules}

with WorkerPool(2) as pool:
    results = list(pool.run(probe, [0, 1]))
import pandas  # the parent itself is untouched
print(json.dumps({"workers": results, "parent_has_pandas": pandas.__name__ == "pandas"}))
"""


def test_workers_convert_lists_without_importing_pandas():
    result = subprocess.run([sys.executable, "-c", WORKER_PROBE], cwd=REPO, capture_output=True, text=True,
                            check=True)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["workers"] == [{"converted": ["a", None, "é"], "pandas_importable": False,
                                   "pandas_loaded": False}] * 2
    assert figures["parent_has_pandas"] is True


def test_a_unit_stages_files_with_the_rows_the_warehouse_gets(clean_tree, tmp_path):
    from ingest.loader import load

    root, _ = clean_tree
    layout = discover(root)
    task = next(unit for unit in layout.units if unit.kind == "task")
    stage = tmp_path / "stage"
    stage.mkdir()
    result = read_unit(layout.root, task, None, str(stage), "7")

    assert sorted(result.staged) == ["bug_reports", "data_sqls", "ingest_files", "task_log_bugs", "task_results"]
    staged: dict[str, pa.Table] = {}
    for table, (path, count) in result.staged.items():
        assert path == str(stage / table / "7.parquet")
        staged[table] = pq.read_table(path)
        assert staged[table].num_rows == count
    assert staged["bug_reports"].schema == arrow_schema("bug_reports")
    assert result.loaded == staged["ingest_files"].num_rows == len(list((root / task.rel).rglob("*.*")))

    warehouse = tmp_path / "warehouse.duckdb"
    load(root, warehouse, jobs=1, quiet=True)
    names = staged["bug_reports"].column_names
    expected = sorted(tuple(row[name] for name in names) for row in staged["bug_reports"].to_pylist())
    actual = sorted(rows(warehouse, f"SELECT {', '.join(names)} FROM raw.bug_reports WHERE task = ?", [task.task]))
    assert len(expected) > 0
    assert actual == expected
    files = staged["ingest_files"].to_pylist()
    assert sorted((f["relative_path"], f["file_hash"], f["size"], f["status"]) for f in files) == sorted(rows(
        warehouse, "SELECT relative_path, file_hash, size, status FROM raw.ingest_files WHERE task = ? "
                   "AND file_kind <> 'task_config'", [task.task]))
