"""Reading pairs out of a generated PINOLO tree: every damaged file is skipped with its reason, nothing else."""

from __future__ import annotations

import json
from collections import Counter

from mutations import check
from mutations.formats import MANIFEST_NAME
from mutations.tree import REPORT_FOLDERS, Pair, SkippedFile, iter_pairs
from simulator.generator import generate

UNREADABLE = {"truncated_json", "empty_json", "invalid_utf8", "unknown_mutation"}


def test_every_unreadable_fault_is_skipped_with_its_reason_and_counts_reconcile(tmp_path):
    generate(tmp_path, dbms=("mysql", "mariadb"), runs=2, tasks=3, queries=10, seed=11, faults=0.05, quiet=True)
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
    expected = {entry["paths"][0]: entry["kind"] for entry in manifest["entries"] if entry["kind"] in UNREADABLE}
    expected.update({entry["paths"][1]: "killed_task" for entry in manifest["entries"] if entry["kind"] == "killed_task"})

    items = list(iter_pairs(str(tmp_path), REPORT_FOLDERS))
    skipped = {item.path: item.reason for item in items if isinstance(item, SkippedFile)}
    assert set(skipped) == set(expected)
    for path, kind in expected.items():
        reason = skipped[path]
        if kind == "unknown_mutation":
            assert reason.startswith("unknown mutation name '")
        elif kind == "invalid_utf8":
            assert reason.startswith("bug json: not valid UTF-8 (byte ")
        else:
            assert reason.startswith("bug json: "), (kind, reason)
    json_files = sorted(p for folder in REPORT_FOLDERS for p in tmp_path.glob(f"output*/*/task-*/{folder}/*.json"))
    assert len(items) == len(json_files)

    pairs = [item for item in items if isinstance(item, Pair)]
    assert {(p.run, p.dbms) for p in pairs} == {(r, d) for r in ("output1", "output2") for d in ("mysql", "mariadb")}
    non_select = {path for entry in manifest["entries"] if entry["kind"].startswith("non_select")
                  for path in entry["paths"] if path.endswith(".json")}
    verdicts = {pair.path: check(pair.original, pair.mutated, pair.strategy) for pair in pairs}
    assert {path for path, verdict in verdicts.items() if not verdict.conforms} == non_select
    for pair in pairs:
        if pair.path not in non_select:
            assert verdicts[pair.path].is_upper == pair.reported_is_upper
    assert Counter(p.folder for p in pairs)["sqlsim"] > 0


def test_a_single_task_directory_is_a_root_too(tmp_path):
    generate(tmp_path, dbms=("tidb",), tasks=1, queries=6, seed=3, quiet=True)
    pairs = list(iter_pairs(str(tmp_path / "tidb" / "task-0")))
    assert pairs and all(isinstance(p, Pair) and (p.run, p.dbms, p.task) == (tmp_path.name, "tidb", "task-0") for p in pairs)
    assert {p.folder for p in pairs} <= {"bugs", "sqlsim"}
