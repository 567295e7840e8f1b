"""finetune.evaluation_report: the HTML page (summary, SVG chart, failures, diffs, escaping, filters in headless
Chromium driven by the URL hash) and the Markdown summary, from a hand-made evaluation."""

from __future__ import annotations

import re
import time

import pytest
from chromium_helpers import ReportDom, dump_dom

from finetune.evaluation_report import (
    CHART_BAR_HEIGHT,
    CHART_BAR_MAX,
    diff_html,
    render_html,
    render_markdown,
    sql_tokens,
    write_reports,
)

CHAT = "gpt-4o-mini"
STRATEGIES = ["FixMCmpOpU", "FixMDistinctL", "FixMWhere1U"]
NASTY = "'</script><b>&'"  # a string literal that would break a page that does not escape

E1 = ("SELECT `a` FROM `t` WHERE (`a`)>(1)", "SELECT `a` FROM `t` WHERE (`a`)>=(1)")
E2 = (f"SELECT `c` FROM `t` WHERE (`c`)<({NASTY})", f"SELECT `c` FROM `t` WHERE (`c`)<=({NASTY})")
E2_CHAT = f"SELECT `c` FROM `t` WHERE (`c`)>({NASTY})"
E2_REASON = "`<` became `>` at char 31, which FixMCmpOpU never does: it turns `<` into `<=`"
E3 = ("SELECT `a` FROM `t`", "SELECT DISTINCT `a` FROM `t`")
E4 = ("SELECT `a` FROM `t` WHERE (`a`)=(2)", "SELECT `a` FROM `t` WHERE 1")
NO_EDIT = "no edit: the output equals the original"


def _out(text, *, raw=None, exact=True, normalised=None, conforms=True, reason=None, fenced=False, prose=False,
         executable=True, oracle="holds", error=None):
    return {"text": text, "raw": text if raw is None else raw, "exact": exact,
            "normalised": exact if normalised is None else normalised, "conforms": conforms, "reason": reason,
            "clean": not fenced and not prose, "fenced": fenced, "prose": prose, "executable": executable,
            "oracle": oracle, "error": error}


def _identity(original):
    return _out(original, exact=False, conforms=False, reason=NO_EDIT)


def _model(name, kind, model, examples, exact, normalised, conforms, ci, clean, fenced, prose, executable, holds,
           prompt=0, completion=0, cost=0.0, errors=0):
    return {"name": name, "kind": kind, "model": model, "examples": examples, "exact": exact,
            "normalised": normalised, "conforms": conforms, "conforms_ci": ci, "clean": clean, "fenced": fenced,
            "prose": prose, "executable": executable, "oracle_holds": holds, "prompt_tokens": prompt,
            "completion_tokens": completion, "cost_usd": cost, "errors": errors}


def _cell(model, strategy, examples, conforms, ci):
    return {"model": model, "strategy": strategy, "examples": examples, "conforms": conforms,
            "rate": conforms / examples, "ci": ci}


def make_data() -> dict:
    """Four examples, three strategies, three models: the engine, identity, and a chatty chat model."""
    return {
        "dataset": "demo", "evaluation_id": 3, "generated_at": "2026-11-24 14:30:00 UTC", "target": "mariadb",
        "models": [
            _model("reference", "reference", "engine", 4, 4, 4, 4, [0.51, 1.0], 4, 0, 0, 4, 4),
            _model("identity", "identity", "identity", 4, 0, 0, 0, [0.0, 0.49], 4, 0, 0, 4, 4),
            _model(CHAT, "chat", "gpt-4o-mini-2024-07-18", 4, 2, 2, 2, [0.15, 0.85], 1, 1, 1, 2, 2,
                   prompt=1234, completion=321, cost=0.000378, errors=1),
        ],
        "strategies": STRATEGIES,
        "per_strategy": [
            _cell("reference", "FixMCmpOpU", 2, 2, [0.34, 1.0]), _cell("identity", "FixMCmpOpU", 2, 0, [0.0, 0.66]),
            _cell(CHAT, "FixMCmpOpU", 2, 1, [0.09, 0.91]),
            _cell("reference", "FixMDistinctL", 1, 1, [0.21, 1.0]),
            _cell("identity", "FixMDistinctL", 1, 0, [0.0, 0.79]), _cell(CHAT, "FixMDistinctL", 1, 1, [0.21, 1.0]),
            _cell("reference", "FixMWhere1U", 1, 1, [0.21, 1.0]), _cell("identity", "FixMWhere1U", 1, 0, [0.0, 0.79]),
            _cell(CHAT, "FixMWhere1U", 1, 0, [0.0, 0.79]),
        ],
        "failures": [
            {"model": "identity", "reason": NO_EDIT, "count": 4},
            {"model": CHAT, "reason": "`<` became `>`, which FixMCmpOpU never does: it turns `<` into `<=`",
             "count": 1},
            {"model": CHAT, "reason": None, "count": 1},
        ],
        "examples": [
            {"example_id": "e1", "strategy": "FixMCmpOpU", "dbms": "mysql", "is_upper": True,
             "original": E1[0], "expected": E1[1],
             "outputs": {"reference": _out(E1[1]), "identity": _identity(E1[0]),
                         CHAT: _out(E1[1], raw=f"```sql\n{E1[1]}\n```", fenced=True)}},
            {"example_id": "e2", "strategy": "FixMCmpOpU", "dbms": "mariadb", "is_upper": True,
             "original": E2[0], "expected": E2[1],
             "outputs": {"reference": _out(E2[1]), "identity": _identity(E2[0]),
                         CHAT: _out(E2_CHAT, raw=f"Here is the mutated query: {E2_CHAT}", exact=False,
                                    conforms=False, reason=E2_REASON, prose=True, oracle="violated")}},
            {"example_id": "e3", "strategy": "FixMDistinctL", "dbms": "mysql", "is_upper": False,
             "original": E3[0], "expected": E3[1],
             "outputs": {"reference": _out(E3[1]), "identity": _identity(E3[0]), CHAT: _out(E3[1])}},
            {"example_id": "e4", "strategy": "FixMWhere1U", "dbms": "mysql", "is_upper": True,
             "original": E4[0], "expected": E4[1],
             "outputs": {"reference": _out(E4[1]), "identity": _identity(E4[0]),
                         CHAT: _out(None, raw=None, exact=False, conforms=False, executable=None, oracle=None,
                                    error="429 Too Many Requests")}},
        ],
    }


def _card(page: str, example_id: str) -> str:
    match = re.search(rf'<article class="example" id="ex-{example_id}".*?</article>', page, re.DOTALL)
    assert match, example_id
    return match.group(0)


def _pane(card: str, model: str) -> str:
    """One model's output pane of a card (panes are siblings: split on their opening tags)."""
    panes = [f'<div class="pane {part}' for part in card.split('<div class="pane ')[1:]]
    matches = [pane for pane in panes if pane.startswith(f'<div class="pane output" data-model="{model}">')]
    assert len(matches) == 1, model
    return matches[0]


# -- HTML, static --------------------------------------------------------------------------------------------


def test_header_and_summary_rows():
    page = render_html(make_data())
    assert "<title>Evaluation 3 of demo</title>" in page
    assert "dataset <strong>demo</strong> · evaluation\n<strong>3</strong> · 2026-11-24 14:30:00 UTC · " \
           "executed on <strong>mariadb</strong> ·\n3 models · 4 examples" in page
    summary = page.split('<table id="summary">')[1].split("</table>")[0]
    rows = re.findall(r'<tr data-model="([^"]*)">(.*?)</tr>', summary)
    assert [name for name, _ in rows] == ["reference", "identity", CHAT]
    cells = {name: re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row) for name, row in rows}
    assert cells["reference"] == ["reference", "reference", "engine", "4", "100.0%", "100.0%",
                                  '100.0% <span class="ci">(51.0–100.0)</span>', "100.0%", "0", "0", "100.0%",
                                  "4 of 4", "0 + 0", "$0.0000", "0"]
    assert cells["identity"] == ["identity", "identity", "identity", "4", "0.0%", "0.0%",
                                 '0.0% <span class="ci">(0.0–49.0)</span>', "100.0%", "0", "0", "100.0%", "4 of 4",
                                 "0 + 0", "$0.0000", "0"]
    assert cells[CHAT] == [CHAT, "chat", "gpt-4o-mini-2024-07-18", "4", "50.0%", "50.0%",
                           '50.0% <span class="ci">(15.0–85.0)</span>', "25.0%", "1", "1", "50.0%", "2 of 2",
                           "1,234 + 321", "$0.0004", "1"]


def test_summary_percentages_have_one_decimal_and_no_target_means_no_execution_columns():
    data = make_data()
    data["target"] = None
    data["models"][0].update(examples=14, exact=9, normalised=10, conforms=12, clean=14, executable=None,
                             oracle_holds=None, cost_usd=None)
    page = render_html(data)
    row = re.search(r'<tr data-model="reference">(.*?)</tr>', page).group(1)
    cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)
    assert cells[3:8] == ["14", "64.3%", "71.4%", '85.7% <span class="ci">(51.0–100.0)</span>', "100.0%"]
    assert cells[10:12] == ["–", "–"] and cells[13] == "–"
    assert "execution not checked (no target)" in page


def test_page_is_self_contained():
    page = render_html(make_data())
    assert page.count("<script>") == 1 and page.count("<style>") == 1
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert "@import" not in page and "url(" not in page and "<link" not in page


def test_chart_has_one_bar_per_model_and_strategy_sized_by_rate():
    data = make_data()
    page = render_html(data)
    svg = re.search(r'<svg id="strategy-chart".*?</svg>', page, re.DOTALL).group(0)
    bars = re.findall(r'<rect class="bar" data-model="([^"]*)" data-strategy="([^"]*)" x="150" y="([\d.]+)" '
                      r'width="([\d.]+)" height="([\d.]+)"', svg)
    assert len(bars) == 9
    widths = {(model, strategy): float(width) for model, strategy, _, width, _ in bars}
    assert widths == {(row["model"], row["strategy"]): CHART_BAR_MAX * row["rate"] for row in data["per_strategy"]}
    assert widths[(CHAT, "FixMCmpOpU")] == 200.0 and widths[("identity", "FixMWhere1U")] == 0.0
    assert {float(height) for *_, height in bars} == {CHART_BAR_HEIGHT - 2}
    # bars stacked per strategy group: model m of strategy s at top + s * (3 bars + gap) + m * bar height
    ys = [float(y) for _, _, y, _, _ in bars]
    assert ys == [28 + s * (3 * CHART_BAR_HEIGHT + 10) + m * CHART_BAR_HEIGHT + 1 for s in range(3) for m in range(3)]
    assert re.findall(r'<text class="rate"[^>]*>([^<]*)</text>', svg) == [
        "100.0%", "0.0%", "50.0%", "100.0%", "0.0%", "100.0%", "100.0%", "0.0%", "0.0%"]
    whiskers = re.findall(r'<path class="whisker" d="M([\d.]+) [\d.]+H([\d.]+)', svg)
    assert whiskers[2] == ("186.0", "514.0")  # chat, FixMCmpOpU: 150 + 400 * [0.09, 0.91]
    assert len(whiskers) == 9
    assert re.findall(r'<g class="legend-item">.*?<text[^>]*>([^<]*)</text></g>', svg) == ["reference", "identity",
                                                                                           CHAT]
    assert re.findall(r'<text class="strategy-label"[^>]*>([^<]*)</text>', svg) == STRATEGIES


def test_chart_marks_a_strategy_a_model_never_saw():
    data = make_data()
    data["per_strategy"] = [row for row in data["per_strategy"]
                            if (row["model"], row["strategy"]) != (CHAT, "FixMWhere1U")]
    svg = re.search(r'<svg id="strategy-chart".*?</svg>', render_html(data), re.DOTALL).group(0)
    assert svg.count('<rect class="bar"') == 8 and svg.count(">no examples</text>") == 1


def test_failure_reasons_table():
    page = render_html(make_data())
    table = re.search(r'<table id="failures">.*?</table>', page, re.DOTALL).group(0)
    assert re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td class=\"num\">(\d+)</td></tr>", table) == [
        ("identity", "no edit: the output equals the original", "4"),
        (CHAT, "`&lt;` became `&gt;`, which FixMCmpOpU never does: it turns `&lt;` into `&lt;=`", "1"),
        (CHAT, "(no reason given)", "1"),
    ]


def test_failure_reasons_top_15_per_model():
    data = make_data()
    data["failures"] = [{"model": CHAT, "reason": f"reason {i}", "count": 40 - i} for i in range(20)] + [
        {"model": "identity", "reason": NO_EDIT, "count": 4}]
    table = re.search(r'<table id="failures">.*?</table>', render_html(data), re.DOTALL).group(0)
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td>", table)
    assert rows == [("identity", NO_EDIT)] + [(CHAT, f"reason {i}") for i in range(15)]


def test_diff_marks_exactly_the_changed_token():
    assert diff_html(*E1) == "SELECT `a` FROM `t` WHERE (`a`)<del>&gt;</del><ins>&gt;=</ins>(1)"
    assert diff_html(*E3) == "SELECT <ins>DISTINCT </ins>`a` FROM `t`"
    assert diff_html(*E4) == "SELECT `a` FROM `t` WHERE <del>(`a`)=(2)</del><ins>1</ins>"
    assert diff_html(E1[0], E1[0]) == "SELECT `a` FROM `t` WHERE (`a`)&gt;(1)"
    assert sql_tokens("SELECT `x``y`, 'it''s', 1.5e3 FROM t WHERE a<=>b AND c!='<'") == [
        "SELECT", " ", "`x``y`", ",", " ", "'it''s'", ",", " ", "1.5e3", " ", "FROM", " ", "t", " ", "WHERE", " ",
        "a", "<=>", "b", " ", "AND", " ", "c", "!=", "'<'"]
    for sql in ("SELECT 'unterminated", "SELECT `open", "a\n\tb", "", "SELECT _UTF8MB4'é' <> @@x"):
        assert "".join(sql_tokens(sql)) == sql


def test_example_cards_show_diffs_badges_and_raw_output():
    page = render_html(make_data())
    e1 = _card(page, "e1")
    assert 'data-strategy="FixMCmpOpU" data-verdicts="reference:conforms identity:fails gpt-4o-mini:conforms"' in e1
    assert e1.count("(`a`)<del>&gt;</del><ins>&gt;=</ins>(1)") == 3  # expected, reference, chat
    chat = _pane(e1, CHAT)
    assert '<span class="badge bad">fenced</span>' in chat and '<span class="badge ok">exact</span>' in chat
    assert "<summary>raw output</summary><pre class=\"sql raw\">```sql\nSELECT" in chat
    identity = _pane(e1, "identity")
    assert "<ins>" not in identity and "<del>" not in identity
    assert f'<span class="badge bad" title="{NO_EDIT}">does not conform</span>' in identity
    assert f'<p class="reason">{NO_EDIT}</p>' in identity
    assert "raw output" not in identity
    e2 = _pane(_card(page, "e2"), CHAT)
    assert '<span class="badge bad">prose</span>' in e2 and '<span class="badge bad">oracle violated</span>' in e2
    assert "(`c`)<del>&lt;</del><ins>&gt;</ins>(&#x27;&lt;/script&gt;&lt;b&gt;&amp;&#x27;)" in e2
    e4 = _card(page, "e4")
    assert 'data-verdicts="reference:conforms identity:fails gpt-4o-mini:error"' in e4
    assert '<p class="error">request failed: 429 Too Many Requests</p>' in _pane(e4, CHAT)
    assert 'class="badges"' not in _pane(e4, CHAT)  # no verdicts shown for a request that failed
    assert '<span class="badge ok">executable</span><span class="badge ok">oracle holds</span>' in _pane(e4,
                                                                                                        "reference")


def test_everything_from_the_data_is_escaped():
    data = make_data()
    data["dataset"] = "d<i>&"
    data["models"][2]["name"] = data["models"][2]["model"] = 'x"><script>alert(1)</script>'
    for example in data["examples"]:
        example["outputs"]['x"><script>alert(1)</script>'] = example["outputs"].pop(CHAT)
    for row in data["per_strategy"] + data["failures"]:
        if row["model"] == CHAT:
            row["model"] = 'x"><script>alert(1)</script>'
    page = render_html(data)
    assert page.count("<script") == 1 and page.count("</script>") == 1
    assert "<b>" not in page and "<i>" not in page and "</script><b>&" not in page
    assert "&#x27;&lt;/script&gt;&lt;b&gt;&amp;&#x27;" in page
    assert "<title>Evaluation 3 of d&lt;i&gt;&amp;</title>" in page
    assert 'value="fails:x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page
    # in data-verdicts, the name is percent-encoded (as encodeURIComponent does): no spaces, no colons
    assert "x%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E:conforms" in _card(page, "e1")


def test_write_reports(tmp_path):
    html_path, md_path = write_reports(make_data(), tmp_path / "reports" / "demo")
    assert html_path == tmp_path / "reports" / "demo" / "evaluation.html"
    assert md_path == tmp_path / "reports" / "demo" / "evaluation.md"
    assert html_path.read_text(encoding="utf-8") == render_html(make_data())
    assert md_path.read_text(encoding="utf-8") == render_markdown(make_data())


# -- Markdown ------------------------------------------------------------------------------------------------

EXPECTED_MARKDOWN = """\
# Evaluation 3 of `demo`

Generated 2026-11-24 14:30:00 UTC; executed on `mariadb`.
3 models, 4 examples. Percentages are of the examples; the interval is the Wilson 95% interval of the \
conformance rate.

## Summary

| model | kind | API model | examples | exact | normalised | conforms (95% CI) | clean | fenced | prose | \
executable | oracle holds | tokens (in + out) | cost | errors |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
| reference | reference | engine | 4 | 100.0% | 100.0% | 100.0% (51.0–100.0) | 100.0% | 0 | 0 | 100.0% | 4 of 4 \
| 0 + 0 | $0.0000 | 0 |
| identity | identity | identity | 4 | 0.0% | 0.0% | 0.0% (0.0–49.0) | 100.0% | 0 | 0 | 100.0% | 4 of 4 \
| 0 + 0 | $0.0000 | 0 |
| gpt-4o-mini | chat | gpt-4o-mini-2024-07-18 | 4 | 50.0% | 50.0% | 50.0% (15.0–85.0) | 25.0% | 1 | 1 | 50.0% \
| 2 of 2 | 1,234 + 321 | $0.0004 | 1 |

## Conformance per strategy

| strategy | reference | identity | gpt-4o-mini |
|---|---|---|---|
| `FixMCmpOpU` | 100.0% (2/2) | 0.0% (0/2) | 50.0% (1/2) |
| `FixMDistinctL` | 100.0% (1/1) | 0.0% (0/1) | 100.0% (1/1) |
| `FixMWhere1U` | 100.0% (1/1) | 0.0% (0/1) | 0.0% (0/1) |

## Most frequent failure reasons

| model | reason | count |
|---|---|---|
| identity | no edit: the output equals the original | 4 |
| gpt-4o-mini | `<` became `>`, which FixMCmpOpU never does: it turns `<` into `<=` | 1 |
| gpt-4o-mini | (no reason given) | 1 |

## First failures

| example | strategy | model | reason |
|---|---|---|---|
| `e1` | `FixMCmpOpU` | identity | no edit: the output equals the original |
| `e2` | `FixMCmpOpU` | identity | no edit: the output equals the original |
| `e2` | `FixMCmpOpU` | gpt-4o-mini | `<` became `>` at char 31, which FixMCmpOpU never does: it turns `<` into `<=` |
| `e3` | `FixMDistinctL` | identity | no edit: the output equals the original |
| `e4` | `FixMWhere1U` | identity | no edit: the output equals the original |

The side-by-side view of every example is in `evaluation.html`.
"""


def test_markdown_tables_exact():
    assert render_markdown(make_data()) == EXPECTED_MARKDOWN


def test_markdown_escapes_pipes_and_handles_no_target_and_no_failures():
    data = make_data()
    data["target"] = None
    data["failures"] = []
    data["models"][2]["name"] = "a|b"
    for example in data["examples"]:
        example["outputs"] = {name: dict(output, conforms=True, error=None)
                              for name, output in example["outputs"].items()}
    markdown = render_markdown(data)
    assert "executed on" not in markdown and "execution not checked (no target)." in markdown
    assert "| strategy | reference | identity | a\\|b |" in markdown
    assert "| a\\|b | chat | gpt-4o-mini-2024-07-18 | 4 | 50.0% | 50.0% | 50.0% (15.0–85.0) | 25.0% | 1 | 1 | – | – |" \
        in markdown
    assert "No failures: every output conforms." in markdown and "## First failures" not in markdown


# -- headless Chromium ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report_page(tmp_path_factory):
    html_path, _ = write_reports(make_data(), tmp_path_factory.mktemp("report"))
    return html_path


def test_filters_in_headless_chromium(report_page, tmp_path):
    started = time.monotonic()
    runs = {
        # no hash: every card visible
        "": (["ex-e1", "ex-e2", "ex-e3", "ex-e4"], set()),
        # the brief's example: one strategy, the cards where identity fails
        "strategy=FixMCmpOpU&verdict=fails:identity": (["ex-e1", "ex-e2"], set()),
        # "fails" includes failed requests; hide= hides a model's output panes
        f"verdict=fails:{CHAT}&hide=identity": (["ex-e2", "ex-e4"], {(f"ex-e{i}", "identity") for i in range(1, 5)}),
        # an unknown strategy falls back to all; conforms: one model
        f"strategy=Nope&verdict=conforms:{CHAT}": (["ex-e1", "ex-e3"], set()),
    }
    for fragment, (visible, hidden_panes) in runs.items():
        dom = ReportDom(dump_dom(report_page, fragment, tmp_path / "profile"))
        assert dom.summary_rows == ["reference", "identity", CHAT], fragment
        assert len(dom.cards) == 4
        assert dom.visible_cards() == visible, fragment
        assert dom.ids["shown-count"] == f"{len(visible)} of 4 examples", fragment
        assert dom.hidden_panes() == hidden_panes, fragment
    elapsed = time.monotonic() - started
    assert elapsed < 40, f"{len(runs)} chromium runs took {elapsed:.1f}s"


def test_filter_change_writes_the_hash_in_headless_chromium(report_page, tmp_path):
    """A probe script, appended to a copy of the page, picks values in the selects as a user would."""
    probe = """<pre id="probe"></pre><script>
      var s = document.getElementById('filter-strategy'), v = document.getElementById('filter-verdict');
      var log = [];
      s.value = 'FixMDistinctL'; s.dispatchEvent(new Event('change'));
      log.push(location.hash + ' ' + document.getElementById('shown-count').textContent);
      v.value = 'any-fails'; v.dispatchEvent(new Event('change'));
      s.value = 'all'; s.dispatchEvent(new Event('change'));
      log.push(location.hash + ' ' + document.getElementById('shown-count').textContent);
      v.value = 'all'; v.dispatchEvent(new Event('change'));
      log.push('[' + location.hash + '] ' + document.getElementById('shown-count').textContent);
      document.getElementById('probe').textContent = log.join('|');
    </script>"""
    page = tmp_path / "probe.html"
    page.write_text(report_page.read_text(encoding="utf-8").replace("</body>", probe + "</body>"), encoding="utf-8")
    dom = ReportDom(dump_dom(page, "", tmp_path / "profile"))
    assert dom.ids["probe"] == ("#strategy=FixMDistinctL 1 of 4 examples|#verdict=any-fails 4 of 4 examples|"
                                "[] 4 of 4 examples")


def test_trained_strategies_without_test_examples_are_named_not_left_out_silently(tmp_path):
    """The demo's test split holds no FixMDistinctL, its main real strategy: the chart cannot show it, so the
    page and the Markdown say so."""
    import duckdb

    from finetune.evaluate import untested_strategies
    from finetune.store import Store

    store = Store(tmp_path / "warehouse.duckdb")
    assert untested_strategies(store, "demo", ["FixMCmpOpU"]) == []  # no marts yet: nothing to say
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.dataset_examples (dataset_name VARCHAR, split VARCHAR, strategy VARCHAR)")
        con.execute("INSERT INTO marts.dataset_examples VALUES ('demo', 'train', 'FixMDistinctL'), "
                    "('demo', 'train', 'FixMCmpOpU'), ('demo', 'test', 'FixMCmpOpU'), ('demo', 'train', 'FixMOn1U'), "
                    "('other', 'train', 'FixMHaving1U')")
    assert untested_strategies(store, "demo", ["FixMCmpOpU"]) == ["FixMDistinctL", "FixMOn1U"]
    data = make_data()
    data["untested_strategies"] = ["FixMDistinctL", "FixMOn1U"]
    line = ("Not measured: 2 strategies of the training split have no test example: FixMDistinctL, FixMOn1U.")
    assert f'<p class="meta warning" id="untested">{line}</p>' in render_html(data)
    assert f"\n{line}\n" in render_markdown(data)
    data["untested_strategies"] = []
    assert 'id="untested"' not in render_html(data) and "Not measured" not in render_markdown(data)
