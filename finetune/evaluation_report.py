"""The evaluation's reports: one self-contained HTML page (`evaluation.html`) and a Markdown summary (`evaluation.md`).

Input: the plain dict `finetune.evaluate.report_data` builds (dataset, evaluation_id, generated_at, target, models,
strategies, per_strategy, failures, examples; see `render_html`). Nothing is recomputed from the examples except the
token diffs: the counts, rates and intervals are the evaluation's own.

The page needs no network: inline CSS, inline SVG for the per-strategy chart, and a little vanilla JS for the
filters. Every text that comes from the data (SQL, model output, reasons, names) goes through `html.escape`, and the
script reads only DOM attributes, so no data is ever placed inside `<script>`.

Filters: `#filter-strategy` (all or one strategy), `#filter-verdict` (all, `any-fails`, `conforms:<model>`,
`fails:<model>`) and one `.model-toggle` checkbox per model (hides that model's outputs). Their state lives in the
URL hash, read on load and on `hashchange` and written back on change:
`evaluation.html#strategy=FixMCmpOpU&verdict=fails:identity&hide=identity` (values percent-encoded, `:` kept).
Each example card carries `data-strategy` and `data-verdicts` ("reference:conforms identity:fails", model names
percent-encoded as `encodeURIComponent` does); a card that does not match gets the `hidden` attribute and
`#shown-count` says "N of M examples".
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

__all__ = ["CHART_BAR_HEIGHT", "CHART_BAR_MAX", "TOP_FAILURES", "diff_html", "render_html", "render_markdown",
           "sql_tokens", "verdict_token", "write_reports"]

TOP_FAILURES = 15  # failure reasons shown per model
CHART_BAR_MAX = 400.0  # px: the width of a 100% bar
CHART_BAR_HEIGHT = 14  # px: one bar's height
_CHART_LABEL = 150  # px: the strategy labels' column
_CHART_GAP = 10  # px between strategy groups
_CHART_TOP = 28  # px: the legend's row
_PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#edc948", "#9c755f", "#ff9da7",
            "#bab0ac")
_DASH = "–"

# Words, quoted strings, backquoted identifiers, numbers, operators and whitespace; anything else one character.
_TOKEN = re.compile(r"""
      \s+
    | `(?:[^`]|``)*`?
    | '(?:[^'\\]|\\.|'')*'?
    | "(?:[^"\\]|\\.|"")*"?
    | (?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?
    | [A-Za-z_$@][A-Za-z0-9_$@]*
    | <=>|<=|>=|<>|!=|<<|>>|&&|\|\||:=|->>|->
    | .
""", re.VERBOSE | re.DOTALL)


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _pct(part: float | None, whole: float | None) -> str:
    if part is None or not whole:
        return _DASH
    return f"{100.0 * part / whole:.1f}%"


def _rate(rate: float | None) -> str:
    return _DASH if rate is None else f"{100.0 * rate:.1f}%"


def _ci(ci: Iterable[float | None] | None) -> str:
    low, high = (list(ci) + [None, None])[:2] if ci is not None else (None, None)
    if low is None or high is None:
        return ""
    return f"{100.0 * low:.1f}–{100.0 * high:.1f}"


def _cost(cost: float | None) -> str:
    return _DASH if cost is None else f"${cost:.4f}"


def _tokens(model: dict) -> str:
    return f"{model.get('prompt_tokens') or 0:,} + {model.get('completion_tokens') or 0:,}"


def _oracle(model: dict) -> str:
    holds, executable = model.get("oracle_holds"), model.get("executable")
    if holds is None:
        return _DASH
    return f"{holds} of {executable}" if executable is not None else str(holds)


def _key(name: str) -> str:
    """A model name as JavaScript's encodeURIComponent writes it (no spaces, no colons)."""
    return quote(str(name), safe="-_.!~*'()")


def verdict_token(output: dict | None) -> str:
    """conforms, fails, error (the request failed) or missing (no output for the example)."""
    if output is None:
        return "missing"
    if output.get("error"):
        return "error"
    return "conforms" if output.get("conforms") else "fails"


# -- token diff ----------------------------------------------------------------------------------------------


def sql_tokens(sql: str) -> list[str]:
    """A simple SQL tokenisation whose tokens concatenate back to `sql` exactly."""
    return _TOKEN.findall(sql or "")


def diff_html(before: str, after: str) -> str:
    """`after`, escaped, with the tokens not in `before` in <ins> and the removed ones in <del> (a change: both).

    The common head and tail are set aside first: a mutation is a local edit, so difflib only sees the few tokens
    around it (fast on 2,000-character queries, and the edit is reported where it is, not shifted by a space).
    """
    old, new = sql_tokens(before), sql_tokens(after)
    head = 0
    while head < len(old) and head < len(new) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < len(old) - head and tail < len(new) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    parts: list[str] = [_e("".join(new[:head]))]
    middle_old, middle_new = old[head:len(old) - tail], new[head:len(new) - tail]
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, middle_old, middle_new, autojunk=False).get_opcodes():
        if op == "equal":
            parts.append(_e("".join(middle_new[j1:j2])))
            continue
        if i2 > i1:
            parts.append(f"<del>{_e(''.join(middle_old[i1:i2]))}</del>")
        if j2 > j1:
            parts.append(f"<ins>{_e(''.join(middle_new[j1:j2]))}</ins>")
    parts.append(_e("".join(new[len(new) - tail:])))
    return "".join(parts)


# -- HTML ----------------------------------------------------------------------------------------------------

_CSS = """
:root { --ok: #1a7f37; --bad: #cf222e; --na: #6e7781; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1500px;
       padding: 1em 1.5em 4em; color: #1f2328; }
h1 { font-size: 1.5em; margin: .3em 0; } h2 { font-size: 1.2em; margin-top: 1.8em; }
.meta { color: #57606a; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid var(--line); padding: .25em .55em; vertical-align: top; }
th { background: #f6f8fa; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.ci { color: #57606a; font-size: .85em; }
[hidden] { display: none !important; }
.filters { position: sticky; top: 0; background: #fff; padding: .6em 0; border-bottom: 1px solid var(--line);
           display: flex; flex-wrap: wrap; gap: 1em; align-items: center; z-index: 1; }
.example { border: 1px solid var(--line); border-radius: 6px; margin: 1em 0; padding: .6em .8em; }
.example header { display: flex; flex-wrap: wrap; gap: .8em; align-items: baseline; margin-bottom: .4em; }
.example header code { color: #57606a; }
.panes { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: .6em; }
.pane { border: 1px solid var(--line); border-radius: 4px; padding: .3em .5em; min-width: 0; }
.pane h3 { font-size: .95em; margin: 0 0 .3em; }
pre.sql { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; font: 12.5px/1.4 ui-monospace, Menlo, Consolas,
          monospace; }
ins { background: #abf2bc; text-decoration: none; } del { background: #ffcecb; }
.badge { display: inline-block; border-radius: 3px; padding: 0 .35em; margin: .1em .15em .1em 0; font-size: .8em;
         color: #fff; background: var(--na); }
.badge.ok { background: var(--ok); } .badge.bad { background: var(--bad); }
.reason { color: var(--bad); font-size: .85em; margin: .2em 0; }
.error { color: var(--bad); font-weight: 600; }
details { font-size: .85em; margin-top: .3em; }
svg text { font: 11px system-ui, sans-serif; }
"""

_JS = r"""
(function () {
  var strategy = document.getElementById('filter-strategy');
  var verdict = document.getElementById('filter-verdict');
  var toggles = Array.prototype.slice.call(document.querySelectorAll('input.model-toggle'));
  var cards = Array.prototype.slice.call(document.querySelectorAll('#examples .example'));
  var count = document.getElementById('shown-count');
  function enc(value) { return encodeURIComponent(value).replace(/%3A/gi, ':'); }
  function verdicts(card) {
    var map = {};
    (card.getAttribute('data-verdicts') || '').split(' ').forEach(function (token) {
      var at = token.lastIndexOf(':');
      if (at > 0) { map[decodeURIComponent(token.slice(0, at))] = token.slice(at + 1); }
    });
    return map;
  }
  function matches(card, s, v) {
    if (s !== 'all' && card.getAttribute('data-strategy') !== s) { return false; }
    if (v === 'all') { return true; }
    var map = verdicts(card);
    if (v === 'any-fails') {
      for (var name in map) { if (map[name] !== 'conforms') { return true; } }
      return false;
    }
    var at = v.indexOf(':');
    var want = v.slice(0, at), model = v.slice(at + 1);
    if (!(model in map)) { return false; }
    return want === 'conforms' ? map[model] === 'conforms' : map[model] !== 'conforms';
  }
  function select(element, value) {
    element.value = value;
    if (element.value !== value) { element.value = 'all'; }
  }
  function readHash() {
    var state = {strategy: 'all', verdict: 'all', hide: []};
    location.hash.replace(/^#/, '').split('&').forEach(function (part) {
      var at = part.indexOf('=');
      if (at <= 0) { return; }
      var key = part.slice(0, at), value = part.slice(at + 1);
      try {
        if (key === 'hide') { state.hide = value.split(',').filter(Boolean).map(decodeURIComponent); }
        else if (key === 'strategy' || key === 'verdict') { state[key] = decodeURIComponent(value); }
      } catch (error) { /* a malformed hash leaves the default */ }
    });
    return state;
  }
  function writeHash() {
    var parts = [];
    if (strategy.value !== 'all') { parts.push('strategy=' + enc(strategy.value)); }
    if (verdict.value !== 'all') { parts.push('verdict=' + enc(verdict.value)); }
    var hidden = toggles.filter(function (t) { return !t.checked; }).map(function (t) { return enc(t.value); });
    if (hidden.length) { parts.push('hide=' + hidden.join(',')); }
    var hash = parts.length ? '#' + parts.join('&') : '';
    try { history.replaceState(null, '', location.pathname + location.search + hash); }
    catch (error) { location.hash = hash; }
  }
  function apply() {
    var shown = 0, s = strategy.value, v = verdict.value;
    var hidden = {};
    toggles.forEach(function (t) { if (!t.checked) { hidden[t.value] = true; } });
    cards.forEach(function (card) {
      var ok = matches(card, s, v);
      if (ok) { card.removeAttribute('hidden'); shown += 1; } else { card.setAttribute('hidden', ''); }
      Array.prototype.forEach.call(card.querySelectorAll('.output'), function (pane) {
        if (hidden[pane.getAttribute('data-model')]) { pane.setAttribute('hidden', ''); }
        else { pane.removeAttribute('hidden'); }
      });
    });
    count.textContent = shown + ' of ' + cards.length + ' examples';
  }
  function load() {
    var state = readHash();
    select(strategy, state.strategy);
    select(verdict, state.verdict);
    toggles.forEach(function (t) { t.checked = state.hide.indexOf(t.value) < 0; });
    apply();
  }
  strategy.addEventListener('change', function () { writeHash(); apply(); });
  verdict.addEventListener('change', function () { writeHash(); apply(); });
  toggles.forEach(function (t) { t.addEventListener('change', function () { writeHash(); apply(); }); });
  window.addEventListener('hashchange', load);
  load();
})();
"""


def _summary_html(models: list[dict], target: str | None) -> str:
    head = ("model", "kind", "API model", "examples", "exact", "normalised", "conforms (95% CI)", "clean", "fenced",
            "prose", "executable", "oracle holds", "tokens (in + out)", "cost", "errors")
    rows = []
    for model in models:
        n = model.get("examples") or 0
        ci = _ci(model.get("conforms_ci"))
        conforms = _pct(model.get("conforms"), n) + (f' <span class="ci">({ci})</span>' if ci else "")
        cells = [
            f"<th>{_e(model['name'])}</th>", f"<td>{_e(model.get('kind'))}</td>", f"<td>{_e(model.get('model'))}</td>",
            f'<td class="num">{n}</td>',
            f'<td class="num">{_pct(model.get("exact"), n)}</td>',
            f'<td class="num">{_pct(model.get("normalised"), n)}</td>',
            f'<td class="num">{conforms}</td>',
            f'<td class="num">{_pct(model.get("clean"), n)}</td>',
            f'<td class="num">{model.get("fenced") or 0}</td>',
            f'<td class="num">{model.get("prose") or 0}</td>',
            f'<td class="num">{_pct(model.get("executable"), n) if target is not None else _DASH}</td>',
            f'<td class="num">{_oracle(model) if target is not None else _DASH}</td>',
            f'<td class="num">{_tokens(model)}</td>',
            f'<td class="num">{_cost(model.get("cost_usd"))}</td>',
            f'<td class="num">{model.get("errors") or 0}</td>',
        ]
        rows.append(f'<tr data-model="{_e(model["name"])}">{"".join(cells)}</tr>')
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    return f'<table id="summary"><thead><tr>{header}</tr></thead><tbody>\n' + "\n".join(rows) + "\n</tbody></table>"


def _chart_svg(models: list[dict], strategies: list[str], per_strategy: list[dict]) -> str:
    """Grouped horizontal bars: one group per strategy, one bar per model (rate as text, CI as a whisker)."""
    cells = {(row["model"], row["strategy"]): row for row in per_strategy}
    names = [model["name"] for model in models]
    colours = {name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(names)}
    group = len(names) * CHART_BAR_HEIGHT + _CHART_GAP
    width = _CHART_LABEL + CHART_BAR_MAX + 70
    height = _CHART_TOP + len(strategies) * group + 16
    out = [(f'<svg id="strategy-chart" xmlns="http://www.w3.org/2000/svg" width="{width:g}" height="{height}" '
           f'viewBox="0 0 {width:g} {height}" role="img" aria-label="conformance per strategy and model">')]
    x = float(_CHART_LABEL)
    for i, name in enumerate(names):  # legend
        out.append(f'<g class="legend-item"><rect x="{x:g}" y="6" width="10" height="10" fill="{colours[name]}"/>'
                   f'<text x="{x + 14:g}" y="15">{_e(name)}</text></g>')
        x += 24 + 7 * len(str(name))
    for tick in (0, 25, 50, 75, 100):
        tx = _CHART_LABEL + CHART_BAR_MAX * tick / 100
        out.append(f'<line class="grid" x1="{tx:g}" y1="{_CHART_TOP - 4}" x2="{tx:g}" y2="{height - 14}" '
                   f'stroke="#d0d7de" stroke-width="1"/>'
                   f'<text x="{tx:g}" y="{height - 3}" text-anchor="middle" fill="#57606a">{tick}%</text>')
    for s, strategy in enumerate(strategies):
        top = _CHART_TOP + s * group
        out.append(f'<text class="strategy-label" x="{_CHART_LABEL - 6}" '
                   f'y="{top + len(names) * CHART_BAR_HEIGHT / 2 + 4:g}" text-anchor="end">{_e(strategy)}</text>')
        for m, name in enumerate(names):
            y = top + m * CHART_BAR_HEIGHT
            row = cells.get((name, strategy))
            rate = None if row is None else row.get("rate")
            if rate is None:
                out.append(f'<text class="no-data" x="{_CHART_LABEL + 4}" y="{y + CHART_BAR_HEIGHT - 3}" '
                           f'fill="#6e7781">no examples</text>')
                continue
            bar = round(CHART_BAR_MAX * rate, 1)
            ci = _ci(row.get("ci"))
            tip = (f"{name} · {strategy}: {row.get('conforms')} of {row.get('examples')} conform "
                   f"({_rate(rate)}" + (f", 95% CI {ci}%" if ci else "") + ")")
            out.append(f'<rect class="bar" data-model="{_e(name)}" data-strategy="{_e(strategy)}" '
                       f'x="{_CHART_LABEL}" y="{y + 1}" width="{bar:g}" height="{CHART_BAR_HEIGHT - 2}" '
                       f'fill="{colours[name]}"><title>{_e(tip)}</title></rect>')
            low, high = (list(row.get("ci") or []) + [None, None])[:2]
            if low is not None and high is not None:
                x1, x2 = _CHART_LABEL + CHART_BAR_MAX * low, _CHART_LABEL + CHART_BAR_MAX * high
                mid = y + CHART_BAR_HEIGHT / 2
                out.append(f'<path class="whisker" d="M{x1:.1f} {mid:g}H{x2:.1f}M{x1:.1f} {mid - 3:g}V{mid + 3:g}'
                           f'M{x2:.1f} {mid - 3:g}V{mid + 3:g}" stroke="#24292f" stroke-width="1" fill="none"/>')
                label_x = _CHART_LABEL + max(bar, CHART_BAR_MAX * high) + 4
            else:
                label_x = _CHART_LABEL + bar + 4
            out.append(f'<text class="rate" x="{label_x:.1f}" y="{y + CHART_BAR_HEIGHT - 3}">{_rate(rate)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _top_failures(failures: list[dict], models: list[dict]) -> list[dict]:
    """The TOP_FAILURES most frequent reasons of each model, models in display order, most frequent first."""
    order = {model["name"]: i for i, model in enumerate(models)}
    ranked = sorted(enumerate(failures), key=lambda item: (order.get(item[1].get("model"), len(order)),
                                                            -(item[1].get("count") or 0), item[0]))
    taken: dict[str, int] = {}
    rows = []
    for _, row in ranked:
        name = row.get("model")
        if taken.get(name, 0) < TOP_FAILURES:
            taken[name] = taken.get(name, 0) + 1
            rows.append(row)
    return rows


def _failures_html(failures: list[dict], models: list[dict]) -> str:
    rows = _top_failures(failures, models)
    if not rows:
        return '<p id="failures">No failures: every output conforms.</p>'
    body = "\n".join(f'<tr><td>{_e(row.get("model"))}</td><td>{_e(row.get("reason") or "(no reason given)")}</td>'
                     f'<td class="num">{row.get("count")}</td></tr>' for row in rows)
    return (f'<table id="failures"><thead><tr><th>model</th><th>reason</th><th>count</th></tr></thead><tbody>\n'
            f"{body}\n</tbody></table>")


def _badge(label: str, state: bool | None, title: str | None = None) -> str:
    cls = "ok" if state else ("na" if state is None else "bad")
    tip = f' title="{_e(title)}"' if title else ""
    return f'<span class="badge {cls}"{tip}>{_e(label)}</span>'


def _output_badges(output: dict) -> str:
    badges = [
        _badge("exact" if output.get("exact") else "not exact", bool(output.get("exact"))),
        _badge("normalised" if output.get("normalised") else "not normalised", bool(output.get("normalised"))),
        _badge("conforms" if output.get("conforms") else "does not conform", bool(output.get("conforms")),
               output.get("reason")),
    ]
    if output.get("clean"):
        badges.append(_badge("clean", True))
    else:
        if output.get("fenced"):
            badges.append(_badge("fenced", False))
        if output.get("prose"):
            badges.append(_badge("prose", False))
        if not output.get("fenced") and not output.get("prose"):
            badges.append(_badge("not clean", False))
    executable = output.get("executable")
    if executable is not None:
        badges.append(_badge("executable" if executable else "not executable", bool(executable)))
    oracle = output.get("oracle")
    if oracle is not None:
        badges.append(_badge(f"oracle {oracle}", True if oracle == "holds" else
                             (False if oracle == "violated" else None)))
    return "".join(badges)


def _example_html(example: dict, models: list[dict]) -> str:
    original = example.get("original") or ""
    outputs = example.get("outputs") or {}
    verdicts = " ".join(f"{_key(m['name'])}:{verdict_token(outputs.get(m['name']))}" for m in models)
    upper = example.get("is_upper")
    polarity = "" if upper is None else _badge("upper" if upper else "lower", None)
    panes = [f'<div class="pane original"><h3>original</h3><pre class="sql">{_e(original)}</pre></div>',
             (f'<div class="pane expected"><h3>expected</h3>'
             f'<pre class="sql">{diff_html(original, example.get("expected") or "")}</pre></div>')]
    for model in models:
        name = model["name"]
        output = outputs.get(name)
        head = f'<h3>{_e(name)} <span class="ci">{_e(model.get("kind"))}</span></h3>'
        if output is None:
            panes.append(f'<div class="pane output" data-model="{_e(name)}">{head}<p class="ci">no output</p></div>')
            continue
        parts = [head]
        if output.get("error"):
            parts.append(f'<p class="error">request failed: {_e(output["error"])}</p>')
        if output.get("text") is not None:
            parts.append(f'<pre class="sql">{diff_html(original, output["text"])}</pre>')
        if not (output.get("error") and output.get("text") is None):
            parts.append(f'<div class="badges">{_output_badges(output)}</div>')
        if output.get("reason"):
            parts.append(f'<p class="reason">{_e(output["reason"])}</p>')
        raw = output.get("raw")
        if raw is not None and raw != output.get("text"):
            parts.append(f'<details><summary>raw output</summary><pre class="sql raw">{_e(raw)}</pre></details>')
        panes.append(f'<div class="pane output" data-model="{_e(name)}">{"".join(parts)}</div>')
    return (f'<article class="example" id="ex-{_e(example.get("example_id"))}" '
            f'data-strategy="{_e(example.get("strategy"))}" data-verdicts="{_e(verdicts)}">'
            f'<header><strong>{_e(example.get("strategy"))}</strong> <span>{_e(example.get("dbms"))}</span> '
            f'{polarity}<code>{_e(example.get("example_id"))}</code></header>'
            f'<div class="panes">{"".join(panes)}</div></article>')


def _filters_html(models: list[dict], strategies: list[str], total: int) -> str:
    strategy_options = ['<option value="all">All strategies</option>'] + [
        f'<option value="{_e(s)}">{_e(s)}</option>' for s in strategies]
    verdict_options = ['<option value="all">All verdicts</option>',
                       '<option value="any-fails">any model fails</option>']
    for model in models:
        name = model["name"]
        verdict_options.append(f'<option value="conforms:{_e(name)}">{_e(name)} conforms</option>')
        verdict_options.append(f'<option value="fails:{_e(name)}">{_e(name)} fails</option>')
    toggles = "".join(f'<label><input type="checkbox" class="model-toggle" value="{_e(m["name"])}" checked> '
                      f'{_e(m["name"])}</label> ' for m in models)
    return (f'<form class="filters" id="filters" onsubmit="return false">'
            f'<label>strategy <select id="filter-strategy">{"".join(strategy_options)}</select></label>'
            f'<label>verdict <select id="filter-verdict">{"".join(verdict_options)}</select></label>'
            f'<span>show: {toggles}</span>'
            f'<strong id="shown-count">{total} of {total} examples</strong></form>')


def untested_line(data: dict) -> str | None:
    """Trained strategies the test split does not hold: said, since the chart can only leave them out."""
    untested = list(data.get("untested_strategies") or [])
    if not untested:
        return None
    return (f"Not measured: {len(untested)} strateg{'y' if len(untested) == 1 else 'ies'} of the training split "
            f"{'has' if len(untested) == 1 else 'have'} no test example: {', '.join(untested)}.")


def _untested_html(data: dict) -> str:
    line = untested_line(data)
    return "" if line is None else f'<p class="meta warning" id="untested">{_e(line)}</p>'


def render_html(data: dict) -> str:
    """One self-contained page (no network): header, summary, per-strategy chart, failures, examples with filters."""
    models = list(data.get("models") or [])
    strategies = list(data.get("strategies") or [])
    examples = list(data.get("examples") or [])
    target = data.get("target")
    title = f"Evaluation {data.get('evaluation_id')} of {data.get('dataset')}"
    target_text = (f"executed on <strong>{_e(target)}</strong>" if target is not None
                   else "execution not checked (no target)")
    cards = "\n".join(_example_html(example, models) for example in examples)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>{_CSS}</style>
</head><body>
<h1>{_e(title)}</h1>
<p class="meta" id="meta">dataset <strong>{_e(data.get('dataset'))}</strong> · evaluation
<strong>{_e(data.get('evaluation_id'))}</strong> · {_e(data.get('generated_at'))} · {target_text} ·
{len(models)} models · {len(examples)} examples</p>
<h2>Summary</h2>
{_summary_html(models, target)}
<p class="meta">Percentages are of the examples; the interval is the Wilson 95% interval of the conformance rate.
Exact: the expected SQL byte for byte; normalised: the same tokens; clean: no code fence and no prose.</p>
<h2>Conformance per strategy</h2>
{_chart_svg(models, strategies, list(data.get("per_strategy") or []))}
{_untested_html(data)}
<h2>Most frequent failure reasons</h2>
{_failures_html(list(data.get("failures") or []), models)}
<h2>Examples</h2>
{_filters_html(models, strategies, len(examples))}
<section id="examples">
{cards}
</section>
<script>{_JS}</script>
</body></html>
"""


# -- Markdown ------------------------------------------------------------------------------------------------


def _md(value: object) -> str:
    """A table cell: pipes escaped (GFM honours `\\|` even inside code spans), newlines as spaces."""
    return ("" if value is None else str(value)).replace("|", "\\|").replace("\n", " ")


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def render_markdown(data: dict) -> str:
    """evaluation.md: the summary table, conformance per strategy, top failure reasons, the first failures."""
    models = list(data.get("models") or [])
    strategies = list(data.get("strategies") or [])
    target = data.get("target")
    lines = [f"# Evaluation {data.get('evaluation_id')} of `{data.get('dataset')}`", "",
             f"Generated {data.get('generated_at')}; "
             + (f"executed on `{target}`." if target is not None else "execution not checked (no target)."),
             (f"{len(models)} models, {len(data.get('examples') or [])} examples. Percentages are of the examples; "
             "the interval is the Wilson 95% interval of the conformance rate."), "", "## Summary", ""]
    rows = []
    for model in models:
        n = model.get("examples") or 0
        ci = _ci(model.get("conforms_ci"))
        rows.append([_md(model["name"]), _md(model.get("kind")), _md(model.get("model")), str(n),
                     _pct(model.get("exact"), n), _pct(model.get("normalised"), n),
                     _pct(model.get("conforms"), n) + (f" ({ci})" if ci else ""), _pct(model.get("clean"), n),
                     str(model.get("fenced") or 0), str(model.get("prose") or 0),
                     _pct(model.get("executable"), n) if target is not None else _DASH,
                     _oracle(model) if target is not None else _DASH,
                     _tokens(model), _cost(model.get("cost_usd")), str(model.get("errors") or 0)])
    lines += _md_table(["model", "kind", "API model", "examples", "exact", "normalised", "conforms (95% CI)",
                        "clean", "fenced", "prose", "executable", "oracle holds", "tokens (in + out)", "cost",
                        "errors"], rows)
    cells = {(row["model"], row["strategy"]): row for row in data.get("per_strategy") or []}
    rows = []
    for strategy in strategies:
        row = [f"`{_md(strategy)}`"]
        for model in models:
            cell = cells.get((model["name"], strategy))
            if cell is None or cell.get("rate") is None:
                row.append(_DASH)
            else:
                row.append(f"{_rate(cell['rate'])} ({cell.get('conforms')}/{cell.get('examples')})")
        rows.append(row)
    lines += ["", "## Conformance per strategy", ""]
    lines += _md_table(["strategy"] + [_md(m["name"]) for m in models], rows)
    if untested_line(data) is not None:
        lines += ["", untested_line(data)]
    lines += ["", "## Most frequent failure reasons", ""]
    failures = _top_failures(list(data.get("failures") or []), models)
    if failures:
        lines += _md_table(["model", "reason", "count"],
                           [[_md(f.get("model")), _md(f.get("reason") or "(no reason given)"), str(f.get("count"))]
                            for f in failures])
    else:
        lines.append("No failures: every output conforms.")
    first = []
    for example in data.get("examples") or []:
        for model in models:
            output = (example.get("outputs") or {}).get(model["name"])
            if output is not None and verdict_token(output) in ("fails", "error"):
                why = f"request failed: {output['error']}" if output.get("error") else \
                    (output.get("reason") or "(no reason given)")
                first.append([f"`{_md(str(example.get('example_id'))[:12])}`", f"`{_md(example.get('strategy'))}`",
                              _md(model["name"]), _md(why)])
        if len(first) >= 5:
            break
    if first:
        lines += ["", "## First failures", ""]
        lines += _md_table(["example", "strategy", "model", "reason"], first[:5])
    lines += ["", "The side-by-side view of every example is in `evaluation.html`.", ""]
    return "\n".join(lines)


def write_reports(data: dict, out_dir: Path) -> tuple[Path, Path]:
    """Write `out_dir/evaluation.html` and `out_dir/evaluation.md`; returns (html path, markdown path)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path, md_path = out_dir / "evaluation.html", out_dir / "evaluation.md"
    html_path.write_text(render_html(data), encoding="utf-8")
    md_path.write_text(render_markdown(data), encoding="utf-8")
    return html_path, md_path
