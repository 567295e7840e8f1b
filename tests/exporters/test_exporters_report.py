"""The export's warnings (report.json `warnings`, report.md) and report.html: exact lists, chart geometry,
and the page loaded in headless Chromium without any outside request."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from exporters_fixtures import build_warehouse

from exporters.charts import BAR_AREA, HIST_HEIGHT
from exporters.export import export_dataset
from exporters.findings import FIXES

COVERAGE_DDL = """
CREATE TABLE marts.dataset_coverage (dataset_name VARCHAR, strategy VARCHAR, dbms VARCHAR, quota INTEGER,
    top_up BOOLEAN, existing_pairs BIGINT, candidate_pairs BIGINT, available BIGINT, available_synthetic BIGINT,
    excluded_not_conforming BIGINT, excluded_not_checked BIGINT, excluded_too_long BIGINT,
    excluded_not_executable BIGINT, selected BIGINT, selected_train BIGINT, selected_validation BIGINT,
    selected_test BIGINT, selected_synthetic BIGINT, selected_raw_form BIGINT, strategy_selected BIGINT,
    strategy_shortfall BIGINT);
"""
# (strategy, dbms, quota, existing, excluded not conforming, too long, selected, selected synthetic, shortfall):
# the fixture's demo examples, plus FixMOn1U requested with nothing selected
COVERAGE = [
    ("FixMDistinctL", "mariadb", 4, 9, 2, 1, 2, 0, 0),
    ("FixMDistinctL", "mysql", 4, 5, 0, 3, 2, 0, 0),
    ("FixMWhere1U", "mysql", 4, 0, 0, 0, 1, 1, 3),
    ("FixMOn1U", "mysql", 2, 0, 0, 0, 0, 0, 2),
]


def with_coverage(path: Path) -> Path:
    build_warehouse(path)
    con = duckdb.connect(str(path))
    try:
        con.execute(COVERAGE_DDL)
        for strategy, dbms, quota, existing, conforming, too_long, selected, synthetic, shortfall in COVERAGE:
            con.execute("INSERT INTO marts.dataset_coverage VALUES ('demo', ?, ?, ?, true, ?, 0, 0, 0, ?, 0, ?, 0, ?, "
                        "0, 0, 0, ?, 0, 0, ?)", [strategy, dbms, quota, existing, conforming, too_long, selected,
                                                 synthetic, shortfall])
    finally:
        con.close()
    return path


def w(code: str, message: str, split: str | None = None, strategy: str | None = None) -> dict:
    return {"code": code, "split": split, "strategy": strategy, "message": message, "fix": FIXES[code]}


FIXTURE_WARNINGS = [
    w("too_few_examples", "train.jsonl: only 3 valid example(s): fine-tuning needs at least 10", "train"),
    w("small_split", "validation.jsonl: only 1 example(s); a split needs at least 10 for its figures to mean "
      "anything", "validation"),
    w("small_split", "test.jsonl: only 1 example(s); a split needs at least 10 for its figures to mean anything",
      "test"),
    w("strategy_missing", "FixMWhere1U has examples in train but none in validation", "validation", "FixMWhere1U"),
    w("strategy_missing", "FixMWhere1U has examples in train but none in test", "test", "FixMWhere1U"),
    w("synthetic_share", "train.jsonl: 1 of 3 examples are synthetic (33%, above 30%)", "train"),
    w("no_real_pair", "FixMWhere1U has no real pair in the dataset: all its examples are synthetic", None,
      "FixMWhere1U"),
]


@pytest.fixture
def warehouse(tmp_path):
    return build_warehouse(tmp_path / "warehouse.duckdb")


def test_warnings_are_exact(warehouse, tmp_path):
    result = export_dataset(warehouse, "demo", tmp_path, quiet=True)
    report = json.loads((tmp_path / "demo" / "report.json").read_text())
    assert report["warnings"] == FIXTURE_WARNINGS
    assert result.warnings == [warning["message"] for warning in FIXTURE_WARNINGS]
    assert "selection" not in report  # no marts.dataset_coverage in this warehouse


def test_the_synthetic_threshold_is_an_option(warehouse, tmp_path):
    lenient = export_dataset(warehouse, "demo", tmp_path / "a", quiet=True, max_synthetic_share=0.5)
    assert [w for w in lenient.report["warnings"] if w["code"] == "synthetic_share"] == []
    strict = export_dataset(warehouse, "demo", tmp_path / "b", quiet=True, max_synthetic_share=0.1)
    assert [w["message"] for w in strict.report["warnings"] if w["code"] == "synthetic_share"] == [
        "1 of 5 examples are synthetic (20%, above 10%)",
        "train.jsonl: 1 of 3 examples are synthetic (33%, above 10%)",
    ]
    with pytest.raises(Exception, match="between 0 and 1"):
        export_dataset(warehouse, "demo", tmp_path / "c", quiet=True, max_synthetic_share=1.5)


def test_cli_option_and_strict(warehouse, tmp_path):
    from exporters.cli import main
    out = str(tmp_path / "x")
    assert main(["-q", "--warehouse", str(warehouse), "export", "-d", "leaky", "-o", out]) == 0
    # leaky: train 1, validation 1, test 1 of one strategy, all real; with --strict its warnings are exit 1
    assert main(["-q", "--warehouse", str(warehouse), "export", "-d", "leaky", "-o", out, "--strict"]) == 1
    with pytest.raises(SystemExit):
        main(["-q", "--warehouse", str(warehouse), "export", "-d", "demo", "-o", out, "--max-synthetic-share", "2"])


def test_requested_strategies_come_from_the_coverage_mart(tmp_path):
    warehouse = with_coverage(tmp_path / "warehouse.duckdb")
    report = export_dataset(warehouse, "demo", tmp_path, quiet=True).report
    assert report["selection"] == [
        {"strategy": "FixMDistinctL", "quota": 4, "existing": 14, "real": 4, "synthetic": 0, "missing": 0,
         "excluded": {"not conforming": 2, "not checked": 0, "too long": 4, "not executable": 0}},
        {"strategy": "FixMOn1U", "quota": 2, "existing": 0, "real": 0, "synthetic": 0, "missing": 2,
         "excluded": {"not conforming": 0, "not checked": 0, "too long": 0, "not executable": 0}},
        {"strategy": "FixMWhere1U", "quota": 4, "existing": 0, "real": 0, "synthetic": 1, "missing": 3,
         "excluded": {"not conforming": 0, "not checked": 0, "too long": 0, "not executable": 0}},
    ]
    # three strategies requested: validation and test (1 example each) hold fewer than one per strategy
    assert [(w["code"], w["split"], w["strategy"]) for w in report["warnings"]] == [
        ("too_few_examples", "train", None),
        ("small_split", "validation", None), ("small_split", "test", None),
        ("strategy_missing", "validation", "FixMWhere1U"), ("strategy_missing", "test", "FixMWhere1U"),
        ("synthetic_share", "train", None),
        ("no_real_pair", None, "FixMOn1U"), ("no_real_pair", None, "FixMWhere1U"),
    ]
    assert report["warnings"][6]["message"] == "FixMOn1U has no real pair in the dataset, and no example"


def test_report_md_shows_the_warnings_first_and_epochs_for_train_only(warehouse, tmp_path):
    export_dataset(warehouse, "demo", tmp_path, quiet=True)
    text = (tmp_path / "demo" / "report.md").read_text()
    headings = re.findall(r"^## (.+)$", text, flags=re.MULTILINE)
    assert headings[:2] == ["Warnings", "Files"]
    assert "- **strategy_missing** `test` `FixMWhere1U`: FixMWhere1U has examples in train but none in test. " \
           f"Fix: {FIXES['strategy_missing']}." in text
    assert "| epochs (default rule) | 25 | - | - | - |" in text


# --- report.html ----------------------------------------------------------------------------------------

class Page(HTMLParser):
    """Sections, bars (with their chart's scale), and every src/href of the page."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[str] = []
        self.bars: list[dict] = []
        self.links: list[str] = []
        self.tags: set[str] = set()
        self._section = ""
        self._svg: dict = {}
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.add(tag)
        self.links.extend(value for name, value in attrs if name in ("src", "href") and value)
        if tag == "section":
            self._section = attributes["id"]
            self.sections.append(self._section)
        elif tag == "svg":
            self._svg = attributes
        elif tag == "rect" and "bar" in (attributes.get("class") or ""):
            self.bars.append({**attributes, "section": self._section, "scale": float(self._svg["data-scale"])})


def bars(page: Page, section: str) -> list[tuple]:
    return [(bar["data-row"], bar["data-kind"], int(bar["data-count"])) for bar in page.bars
            if bar["section"] == section]


def test_html_charts_hold_the_exact_counts(tmp_path):
    warehouse = with_coverage(tmp_path / "warehouse.duckdb")
    export_dataset(warehouse, "demo", tmp_path, quiet=True)
    page = Page((tmp_path / "demo" / "report.html").read_text())
    assert page.sections == ["warnings", "files", "examples", "quota", "tokens", "excluded", "validation"]
    # per split, real and synthetic per strategy × DBMS (zero segments not drawn), in split order
    assert bars(page, "examples") == [
        ("FixMDistinctL · mariadb", "real", 1), ("FixMDistinctL · mysql", "real", 1),
        ("FixMWhere1U · mysql", "synthetic", 1),
        ("FixMDistinctL · mysql", "real", 1),
        ("FixMDistinctL · mariadb", "real", 1),
    ]
    assert bars(page, "quota") == [("FixMDistinctL", "real", 4), ("FixMOn1U", "missing", 2),
                                   ("FixMWhere1U", "synthetic", 1), ("FixMWhere1U", "missing", 3)]
    assert bars(page, "excluded") == [("FixMDistinctL", "not conforming", 2), ("FixMDistinctL", "too long", 4)]
    # geometry: a bar is its count times the chart's scale, segments of a row abut, the longest row fills the area
    for bar in page.bars:
        if bar["section"] != "tokens":
            assert float(bar["width"]) == pytest.approx(int(bar["data-count"]) * bar["scale"], abs=0.005)
    fill = [bar for bar in page.bars if bar["section"] == "quota" and bar["data-row"] == "FixMWhere1U"]
    assert float(fill[0]["x"]) + float(fill[0]["width"]) == pytest.approx(float(fill[1]["x"]), abs=0.01)
    assert float(fill[0]["width"]) + float(fill[1]["width"]) == pytest.approx(BAR_AREA, abs=0.01)
    # histograms: every example of a split in one bin, shared bins, the fullest bin the chart's height
    tokens = [bar for bar in page.bars if bar["section"] == "tokens"]
    meta = {split: [json.loads(line)["tokens"] for line in
                    (tmp_path / "demo" / f"{split}.meta.jsonl").read_text().splitlines()]
            for split in ("train", "validation", "test")}
    for split, rows in meta.items():
        for metric in ("total", "assistant"):
            mine = [bar for bar in tokens if bar["data-row"] == f"{split}/{metric}"]
            for row in rows:
                assert sum(int(b["data-lo"]) <= row[metric] <= int(b["data-hi"]) for b in mine) == 1
            assert sum(int(b["data-count"]) for b in mine) == len(rows)
            assert max(float(b["height"]) for b in mine) == pytest.approx(HIST_HEIGHT)
    # nothing validated in this warehouse: the page says so rather than drawing an empty chart
    assert bars(page, "validation") == []


def test_html_warnings_come_first(warehouse, tmp_path):
    export_dataset(warehouse, "demo", tmp_path, quiet=True)
    text = (tmp_path / "demo" / "report.html").read_text()
    codes = re.findall(r'<li class="warning" data-code="([a-z_]+)"', text)
    assert codes == [warning["code"] for warning in FIXTURE_WARNINGS]
    assert text.index('id="warnings"') < text.index('id="files"')


def test_html_is_self_contained_and_loads_in_chromium(warehouse, tmp_path):
    export_dataset(warehouse, "demo", tmp_path, quiet=True)
    page_path = tmp_path / "demo" / "report.html"
    text = page_path.read_text()
    page = Page(text)
    assert page.links == [] and "script" not in page.tags and "link" not in page.tags
    assert not re.search(r"https?://", text)
    browser = shutil.which("chromium")
    if browser is None:
        pytest.fail("chromium is not installed (Debian package `chromium`): run `make setup`, which installs it")
    profile = tmp_path / "profile"
    profile.mkdir()
    # --dump-dom prints the page as the browser built it; any request outside file:// would be refused and logged
    result = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
         f"--user-data-dir={profile}", "--virtual-time-budget=2000", "--dump-dom", page_path.as_uri()],
        capture_output=True, text=True, timeout=60, env=dict(os.environ, HOME=str(profile)), check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    dom = Page(result.stdout)
    assert dom.sections == ["warnings", "files", "examples", "quota", "tokens", "excluded", "validation"]
    assert len(dom.bars) == len(page.bars) > 0
    assert dom.links == []
