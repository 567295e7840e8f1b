"""The strategy prompts seed holds the 18 texts of strategy-prompts.md byte for byte."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from dbt_fixtures import PROJECT, ROOT

SEED = PROJECT / "seeds" / "strategy_prompts.csv"
GOLDEN = Path(__file__).with_name("strategy_prompts.json")
SHARED_DOC = ROOT.parent / "shared" / "docs" / "strategy-prompts.md"


def seed_prompts() -> dict[str, str]:
    with SEED.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [list(r) for r in rows[:1]] == [["strategy", "illustration"]]
    return {r["strategy"]: r["illustration"] for r in rows}


def test_seed_matches_the_golden_copy_byte_for_byte():
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert seed_prompts() == golden
    assert list(seed_prompts()) == list(golden)  # same order as the document
    assert len(golden) == 18
    assert seed_prompts()["FixMWhere1U"].endswith("in SELECT statement. ")  # trailing space kept


@pytest.mark.skipif(not SHARED_DOC.is_file(), reason="../shared/docs/strategy-prompts.md is not beside the repo")
def test_seed_matches_the_shared_document():
    block = re.search(r"```json\n(.*?)\n```", SHARED_DOC.read_text(encoding="utf-8"), re.DOTALL).group(1)
    assert seed_prompts() == json.loads(block)


def test_display_names():
    with (PROJECT / "seeds" / "dbms_display_names.csv").open(newline="", encoding="utf-8") as fh:
        rows = [tuple(r) for r in csv.reader(fh)]
    assert rows == [("dbms", "display_name"), ("mysql", "MySQL"), ("mariadb", "MariaDB"), ("tidb", "TiDB"),
                    ("oceanbase", "OceanBase")]
