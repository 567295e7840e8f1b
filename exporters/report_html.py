"""`report.html` of an export: the report drawn, one self-contained page (inline SVG and CSS, no script, no
external resource), the warnings first.

Sections (each `<section id=…>`): `warnings`; `examples` (per split, a bar per strategy × DBMS, real and
synthetic stacked, all splits on one scale); `quota` (per requested strategy: real, synthetic and missing
stacked, the quota beside; from marts.dataset_coverage); `tokens` (per split, histograms of total and
assistant tokens per example on bins shared by the splits); `excluded` (real pairs left out, by reason);
`validation` (examples per validation status and strategy; only when some example was validated).
"""

from __future__ import annotations

from collections import Counter
from html import escape
from typing import Any

from .charts import BAR_AREA, bins, histogram, legend, stacked_bars

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #1a202c; max-width: 60em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; } h3 { font-size: 1em; }
svg.chart { display: block; margin: .5em 0; font-size: 12px; }
.legend .key { margin-right: 1.2em; } .swatch { display: inline-block; width: .8em; height: .8em; margin-right: .3em; }
li.warning { margin-bottom: .4em; } .code { font-family: monospace; font-weight: bold; }
.fix { color: #4a5568; } table { border-collapse: collapse; } td, th { padding: .2em .6em; text-align: right; }
td:first-child, th:first-child { text-align: left; } .histograms { display: flex; flex-wrap: wrap; gap: 1em; }
"""
UNVALIDATED = {"not validated", "None"}


def _warnings(warnings: list[dict[str, Any]]) -> str:
    if not warnings:
        return '<section id="warnings"><h2>Warnings</h2><p>None.</p></section>'
    items = []
    for warning in warnings:
        where = " · ".join(escape(value) for value in (warning["split"], warning["strategy"]) if value)
        items.append(f'<li class="warning" data-code="{escape(warning["code"])}"><span class="code">'
                     f'{escape(warning["code"])}</span>{" (" + where + ")" if where else ""}: '
                     f'{escape(warning["message"])}<br><span class="fix">Fix: {escape(warning["fix"])}</span></li>')
    return (f'<section id="warnings"><h2>Warnings ({len(warnings)})</h2><ul>{"".join(items)}</ul></section>')


def _examples(shape: dict[str, Counter]) -> str:
    combos = sorted({(strategy, dbms) for per in shape.values() for strategy, dbms, _ in per})
    longest = max((shape[split][(s, d, False)] + shape[split][(s, d, True)] for split in shape for s, d in combos),
                  default=0)
    scale = BAR_AREA / longest if longest else 0.0
    parts = ['<section id="examples"><h2>Examples per strategy and DBMS</h2>', legend(["real", "synthetic"])]
    for split, per in shape.items():
        rows = [(f"{strategy} · {dbms}", [("real", per[(strategy, dbms, False)]),
                                          ("synthetic", per[(strategy, dbms, True)])])
                for strategy, dbms in combos]
        parts.append(f'<h3 id="examples-{split}">{split} ({sum(per.values())} examples)</h3>')
        parts.append(stacked_bars(rows, title=f"{split}: examples per strategy and DBMS", scale=scale)
                     if rows else "<p>No examples.</p>")
    parts.append("</section>")
    return "".join(parts)


def _quota(selection: list[dict[str, Any]]) -> str:
    head = '<section id="quota"><h2>Quota fill per strategy</h2>'
    if not selection:
        return head + "<p>No selection figures: the warehouse has no marts.dataset_coverage.</p></section>"
    rows = [(item["strategy"], [("real", item["real"]), ("synthetic", item["synthetic"]),
                                ("missing", item["missing"])]) for item in selection]
    note = {item["strategy"]: f"requested {'all' if item['quota'] is None else item['quota']}"
            for item in selection}
    table = "".join(f"<tr><td>{escape(item['strategy'])}</td><td>{'all' if item['quota'] is None else item['quota']}"
                    f"</td><td>{item['real']}</td><td>{item['synthetic']}</td><td>{item['missing']}</td>"
                    f"<td>{item['existing']}</td></tr>" for item in selection)
    return (head + legend(["real", "synthetic", "missing"])
            + stacked_bars(rows, title="quota fill per strategy", note=note)
            + '<table id="quota-table"><tr><th>strategy</th><th>requested</th><th>real</th><th>synthetic</th>'
            f"<th>missing</th><th>real pairs in the warehouse</th></tr>{table}</table></section>")


def _tokens(tokens: dict[str, dict[str, list[int]]]) -> str:
    parts = ['<section id="tokens"><h2>Tokens per example</h2>']
    for metric, label in (("total", "total tokens"), ("assistant", "assistant tokens")):
        edges = bins([value for per in tokens.values() for value in per[metric]])
        parts.append(f'<h3>{label}</h3><div class="histograms">')
        for split, per in tokens.items():
            parts.append(histogram(per[metric], edges, title=f"{split}: {label}", row=f"{split}/{metric}"))
        parts.append("</div>")
    parts.append("</section>")
    return "".join(parts)


def _excluded(selection: list[dict[str, Any]]) -> str:
    head = '<section id="excluded"><h2>Candidates excluded, by reason</h2>'
    if not selection:
        return head + "<p>No selection figures: the warehouse has no marts.dataset_coverage.</p></section>"
    reasons = sorted({reason for item in selection for reason in item["excluded"]})
    total = sum(sum(item["excluded"].values()) for item in selection)
    if not total:
        return head + "<p>No real candidate pair was excluded.</p></section>"
    rows = [(item["strategy"], [(reason, item["excluded"].get(reason, 0)) for reason in reasons])
            for item in selection]
    return head + legend(reasons) + stacked_bars(rows, title="real pairs excluded per strategy") + "</section>"


def _validation(by_strategy: dict[str, Counter]) -> str:
    statuses = sorted({status for per in by_strategy.values() for status in per})
    if not set(statuses) - UNVALIDATED:
        return ('<section id="validation"><h2>Validation</h2><p>No example of this dataset was validated '
                "(`pinoloft validate`).</p></section>")
    rows = [(strategy, [(status, per[status]) for status in statuses]) for strategy, per in sorted(by_strategy.items())]
    return ('<section id="validation"><h2>Validation status per strategy</h2>'
            "<p>Executability of each example's pair on the validation server (the oracle's verdicts are in "
            "`pinoloft validate report`).</p>"
            + legend(statuses) + stacked_bars(rows, title="examples per validation status") + "</section>")


def export_html(report: dict[str, Any], shape: dict[str, Counter], tokens: dict[str, dict[str, list[int]]],
                validation_by_strategy: dict[str, Counter]) -> str:
    """The page, from report.json's dict and the export's tallies (split -> (strategy, dbms, is_synthetic) ->
    examples; split -> total/assistant -> token counts; strategy -> validation status -> examples)."""
    dataset = escape(report["dataset"])
    files = "".join(f"<tr><td>{escape(name)}</td><td>{info['examples']}</td><td>{info['bytes']}</td></tr>"
                    for name, info in report["files"].items())
    return "".join([
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        f"<title>Export {dataset}</title><style>{STYLE}</style></head><body>",
        f"<h1>Export <code>{dataset}</code></h1>",
        f"<p>Model <code>{escape(report['model'])}</code>, at most {report['token_limit']:,} tokens per example. "
        "report.md and report.json hold every figure; README.md is the dataset card.</p>",
        _warnings(report["warnings"]),
        f'<section id="files"><h2>Files</h2><table><tr><th>file</th><th>examples</th><th>bytes</th></tr>{files}'
        "</table></section>",
        _examples(shape),
        _quota(report.get("selection", [])),
        _tokens(tokens),
        _excluded(report.get("selection", [])),
        _validation(validation_by_strategy),
        "</body></html>\n",
    ])
