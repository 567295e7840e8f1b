"""The demo's warnings, exactly: the bundled sample through ingest, transform and export, as `make demo` runs
them (real DuckDB, real dbt), then report.json, report.md, report.html and the card read back."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from exporters.findings import FIXES

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
                            env=dict(os.environ))
    assert result.returncode == 0, f"{args}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo")
    pinoloft = ["-m", "pinoloft", "--quiet", "--warehouse", str(work / "warehouse.duckdb")]
    run(*pinoloft, "ingest", "--root", str(ROOT / "examples" / "pinolo-output"))
    run(*pinoloft, "transform", "--datasets-dir", str(ROOT / "datasets"))
    export = run(*pinoloft, "export", "--dataset", "demo", "--out", str(work / "exports"))
    return {"directory": work / "exports" / "demo", "export": export}


def w(code: str, message: str, split: str | None = None, strategy: str | None = None) -> dict:
    return {"code": code, "split": split, "strategy": strategy, "message": message, "fix": FIXES[code]}


NO_REAL = "has no real pair in the dataset: all its examples are synthetic"
# test: 14 examples, 12 synthetic, no FixMDistinctL; validation: 7; 5 of the 9 strategies never fired in the sample
DEMO_WARNINGS = [
    w("small_split", "validation.jsonl: only 7 example(s); a split needs at least 10 for its figures to mean "
      "anything", "validation"),
    *(w("strategy_missing", f"{strategy} has examples in train but none in validation", "validation", strategy)
      for strategy in ("FixMCmpOpU", "FixMDistinctL", "FixMHaving0L", "FixMWhere0L", "FixMWhere1U")),
    w("strategy_missing", "FixMDistinctL has examples in train but none in test", "test", "FixMDistinctL"),
    w("synthetic_share", "79 of 108 examples are synthetic (73%, above 30%)"),
    w("synthetic_share", "train.jsonl: 63 of 87 examples are synthetic (72%, above 30%)", "train"),
    w("synthetic_share", "validation.jsonl: 4 of 7 examples are synthetic (57%, above 30%)", "validation"),
    w("synthetic_share", "test.jsonl: 12 of 14 examples are synthetic (86%, above 30%)", "test"),
    *(w("no_real_pair", f"{strategy} {NO_REAL}", None, strategy)
      for strategy in ("FixMHaving0L", "FixMInNullU", "FixMOn0L", "FixMWhere0L", "FixMWhere1U")),
]


def test_demo_warnings_are_exact(demo):
    report = json.loads((demo["directory"] / "report.json").read_text())
    assert report["warnings"] == DEMO_WARNINGS
    assert f"  warning: test.jsonl: 12 of 14 examples are synthetic (86%, above 30%)\n" in demo["export"].stdout
    markdown = (demo["directory"] / "report.md").read_text()
    assert markdown.index("## Warnings") < markdown.index("## Files")
    assert "None." not in markdown.split("## Files")[0]
    assert "| epochs (default rule) | 3 | - | - | - |" in markdown


def test_demo_quota_fill(demo):
    selection = {item["strategy"]: item for item in
                 json.loads((demo["directory"] / "report.json").read_text())["selection"]}
    assert sorted(selection) == ["FixMCmpOpU", "FixMDistinctL", "FixMHaving0L", "FixMHaving1U", "FixMInNullU",
                                 "FixMOn0L", "FixMOn1U", "FixMWhere0L", "FixMWhere1U"]
    assert {name: (item["quota"], item["real"], item["synthetic"], item["missing"])
            for name, item in selection.items()} == {
        "FixMCmpOpU": (12, 4, 8, 0), "FixMDistinctL": (12, 12, 0, 0), "FixMHaving0L": (12, 0, 12, 0),
        "FixMHaving1U": (12, 12, 0, 0), "FixMInNullU": (12, 0, 12, 0), "FixMOn0L": (12, 0, 12, 0),
        "FixMOn1U": (12, 1, 11, 0), "FixMWhere0L": (12, 0, 12, 0), "FixMWhere1U": (12, 0, 12, 0)}


def test_demo_card(demo):
    text = (demo["directory"] / "README.md").read_text()
    assert "108 examples: 29 real, 79 synthetic" in text
    assert "| total | 24 + 63 | 3 + 4 | 2 + 12 | 29 + 79 |" in text
    assert "| FixMDistinctL | 12 + 0 | 0 + 0 | 0 + 0 | 12 + 0 |" in text
    for name, examples in (("train.jsonl", 87), ("validation.jsonl", 7), ("test.jsonl", 14)):
        digest = hashlib.sha256((demo["directory"] / name).read_bytes()).hexdigest()
        assert f"| `{name}` | {examples} | `{digest}` |" in text
    assert f"`{ROOT / 'examples' / 'pinolo-output'}` run `output2` on mysql" in text
    assert "- top_up: true" in text and "- form: sqlsim" in text
