"""Human renderings: the text report of `check`, and `report.md` of an export."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .check import CheckResult

MAX_PROBLEMS_SHOWN = 20
DISTRIBUTION_LABELS = (
    ("messages", "messages per example"),
    ("total_tokens", "total tokens per example"),
    ("assistant_tokens", "assistant tokens per example"),
)
STAT_COLUMNS = ("min", "max", "mean", "median", "p5", "p95")


def _number(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.1f}"
    return str(value)


def usd(value: float) -> str:
    """Dollars: cents from one cent up, micro-dollars below."""
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:,.6f}"


def _table(header: list[str], rows: list[list[str]], *, markdown: bool) -> list[str]:
    if markdown:
        rule = "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"
        out = ["| " + " | ".join(header) + " |", rule]
        out.extend("| " + " | ".join(row) + " |" for row in rows)
        return out
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    lines = []
    for row in [header, *rows]:
        cells = [str(row[0]).ljust(widths[0])] + [str(cell).rjust(width) for cell, width in zip(row[1:], widths[1:])]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def check_text(result: CheckResult) -> str:
    """The human report of `python -m exporters check FILE`."""
    model = result.model
    out = [
        f"Data check of {result.source}",
        (f"model {model.name} ({result.encoding}), at most {model.token_limit:,} tokens per example, "
         f"${model.usd_per_1m_training_tokens:.2f} per 1M training tokens"),
        "",
        f"examples: {result.n_examples:,} ({result.n_valid:,} without format errors)",
    ]
    if result.n_format_errors:
        out.append(f"FORMAT ERRORS: {result.n_format_errors:,} (examples per category; one example may be in several)")
        out.extend(_table(["category", "examples"],
                          [[category, _number(count)] for category, count in result.format_errors.items()],
                          markdown=False))
        out.append("first problems:")
        for problem in result.problems[:MAX_PROBLEMS_SHOWN]:
            out.append(f"  {problem['location']}: {problem['category']}: {problem['detail']}")
        hidden = sum(result.format_errors.values()) - min(len(result.problems), MAX_PROBLEMS_SHOWN)
        if hidden > 0:
            out.append(f"  … and {hidden:,} more")
    else:
        out.append("format errors: none")
    warnings = result.warning_items()
    out.append("")
    out.append("warnings:" if warnings else "warnings: none")
    for kind, warning in warnings:
        out.append(f"  - {warning}")
        if kind == "duplicates":
            out.extend(f"    {d['location']} duplicates {d['duplicate_of']}" for d in result.duplicates[:5])
        elif kind == "special_tokens":
            out.extend(f"    {s['location']}: {', '.join(s['tokens'])}" for s in result.special[:5])
        elif kind == "over_limit":
            out.extend(f"    {o['location']}: {o['tokens']:,} tokens" for o in result.over_limit[:5])
    out.append(f"no system message: {result.n_missing_system:,}; no user message: {result.n_missing_user:,}")
    out.append("")
    out.append(f"distributions over the {result.n_valid:,} valid examples ({result.encoding}; "
               "p5/p95 by nearest rank):")
    rows = [[label, *(_number(result.distributions[key][stat]) for stat in STAT_COLUMNS)]
            for key, label in DISTRIBUTION_LABELS]
    out.extend(_table(["", *STAT_COLUMNS], rows, markdown=False))
    if result.counts:
        out.append("")
        out.append("examples per strategy and DBMS (from the .meta.jsonl sidecar):")
        out.extend(_counts_table(result.counts, markdown=False))
    out.append("")
    out.append(f"over the token limit: {result.n_over_limit:,}")
    out.append(f"epochs (default rule): {result.n_epochs}")
    out.append(f"billed tokens: {result.billing_tokens:,}")
    out.append(f"estimated training cost: {usd(result.estimated_cost_usd)}")
    return "\n".join(out) + "\n"


def _counts_table(counts: dict[str, Any], *, markdown: bool) -> list[str]:
    nested: dict[str, dict[str, int]] = counts["by_strategy_dbms"]
    dbmss = sorted(counts["by_dbms"])
    rows = [[strategy, *(_number(per_dbms.get(dbms, 0)) for dbms in dbmss), _number(sum(per_dbms.values()))]
            for strategy, per_dbms in nested.items()]
    rows.append(["total", *(_number(counts["by_dbms"][dbms]) for dbms in dbmss),
                 _number(sum(counts["by_dbms"].values()))])
    return _table(["strategy", *dbmss, "total"], rows, markdown=markdown)


def _format_count(result: CheckResult, category: str) -> int:
    return result.format_errors[category]


def warning_line(warning: dict[str, Any]) -> str:
    """One warning of report.json as a Markdown list item: code, what, and the suggested fix."""
    where = " ".join(f"`{value}`" for value in (warning["split"], warning["strategy"]) if value)
    return f"- **{warning['code']}**{' ' + where if where else ''}: {warning['message']}. Fix: {warning['fix']}."


def export_markdown(report: dict[str, Any], results: dict[str, CheckResult], total: CheckResult) -> str:
    """`report.md` of an export: files, the check per split and in total, overlap, counts, warnings."""
    splits = list(results)
    columns = [*splits, "total"]
    everything = {**results, "total": total}
    out = [
        f"# Export `{report['dataset']}`",
        "",
        (f"Model `{report['model']}` (encoding `{report['encoding']}`), at most {report['token_limit']:,} tokens "
         f"per example, ${report['usd_per_1m_training_tokens']:.2f} per 1M training tokens."),
        "",
        "## Warnings",
        "",
    ]
    # the warnings first: they are what a reader must not miss
    if report["warnings"]:
        out.extend(warning_line(warning) for warning in report["warnings"])
    else:
        out.append("None.")
    out += ["", "## Files", ""]
    out.extend(_table(["file", "examples", "bytes", "sha256"],
                      [[f"`{name}`", _number(info["examples"]), _number(info["bytes"]), f"`{info['sha256'][:16]}…`"]
                       for name, info in report["files"].items()], markdown=True))
    if "formats" in report:
        out += ["", "## Other formats", "",
                "The same examples, splits and order for other trainers and services (docs/export.md says how to "
                "point each at its folder); a config file has no examples.", ""]
        out.extend(_table(["format", "file", "examples", "bytes", "sha256"],
                          [[name, f"`{path}`", _number(info["examples"]), _number(info["bytes"]),
                            f"`{info['sha256']}`"]
                           for name, entry in report["formats"].items() for path, info in entry["files"].items()],
                          markdown=True))
    training = report["training"]
    out += [
        "",
        "## Verdict",
        "",
        ("**Not fit to upload: format errors.**" if report["n_format_errors"] else
         "No format errors: fit to upload." + (" Read the warnings above." if report["warnings"] else "")),
        "",
        (f"Training on `train.jsonl`: {training['n_examples']:,} examples × {training['n_epochs']} epochs "
         f"(default rule) = {training['billing_tokens']:,} billed tokens, about "
         f"{usd(training['estimated_cost_usd'])}."),
        "",
        "## Check",
        "",
    ]
    check_rows = [
        ("examples", lambda r: r.n_examples),
        ("valid examples", lambda r: r.n_valid),
        *((f"format: {category}", functools.partial(_format_count, category=category))
          for category in total.format_errors),
        ("no system message", lambda r: r.n_missing_system),
        ("no user message", lambda r: r.n_missing_user),
        ("exact duplicates", lambda r: r.n_duplicates),
        ("special-token strings", lambda r: r.n_special_token_examples),
        ("over the token limit", lambda r: r.n_over_limit),
        ("epochs (default rule)", lambda r: r.n_epochs if r.source == "train.jsonl" else None),
        ("billed tokens", lambda r: r.billing_tokens),
        ("estimated cost (USD)", lambda r: usd(r.estimated_cost_usd)),
    ]
    out.extend(_table(["", *columns], [[label, *(_number(getter(everything[c])) for c in columns)]
                                      for label, getter in check_rows], markdown=True))
    out += ["", ("Each split is checked as its own file; the total column checks the three files as one (its "
                 "duplicates include examples repeated across splits). Epochs are a training figure: train only.")]
    out += ["", f"Fewer than 10 valid examples in train: {'yes' if results['train'].too_few_examples else 'no'}.",
            "", "## Distributions", "",
            (f"Per example, counted with `{report['encoding']}` (3 tokens per message + role, content and name "
             "+ 1 per name, + 3 for the reply); p5/p95 by nearest rank."), ""]
    for key, label in DISTRIBUTION_LABELS:
        out.append(f"**{label}**")
        out.append("")
        out.extend(_table(["", *STAT_COLUMNS],
                          [[c, *(_number(everything[c].distributions[key][s]) for s in STAT_COLUMNS)] for c in columns],
                          markdown=True))
        out.append("")
    out += ["## Overlap between splits", "",
            "Distinct user contents, and distinct original fingerprints (from the mart), found in both splits.", ""]
    overlap = report["overlap"]
    out.extend(_table(["splits", "user content", "original fingerprint"],
                      [[pair, _number(shared), _number(overlap["original_fingerprint"][pair])]
                       for pair, shared in overlap["user_content"].items()], markdown=True))
    out += ["", "## Examples per strategy and DBMS", ""]
    out.extend(_table(["strategy", "dbms", *columns],
                      [[row["strategy"], row["dbms"], *(_number(row[c]) for c in columns)]
                       for row in report["counts"]["by_strategy_dbms"]], markdown=True))
    out += ["", "## Synthetic examples and validation status", ""]
    synthetic_rows = []
    for split in splits:
        flags = report["counts"]["is_synthetic"][split]
        statuses = report["counts"]["validation_status"][split]
        synthetic_rows.append([split, _number(flags.get("true", 0)), _number(flags.get("false", 0)),
                               ", ".join(f"{status}: {count:,}" for status, count in statuses.items()) or "-"])
    out.extend(_table(["split", "synthetic", "real", "validation status"], synthetic_rows, markdown=True))
    problems = [p for r in results.values() for p in r.problems][:MAX_PROBLEMS_SHOWN]
    if problems:
        out += ["", "## First format problems", ""]
        out.extend(f"- `{p['location']}`: {p['category']}: {p['detail']}" for p in problems)
    return "\n".join(out) + "\n"
