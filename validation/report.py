"""`report.md` for one target: its runs, executability per strategy, and failures per error class.

It reads the marts dbt builds from the logs (`marts.validation_executability`, `marts.validation_errors`)
and `raw.validation_invocations`, read-only, so it always agrees with what ad-hoc SQL on the warehouse shows.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pinoloft_base.warehouse import connect

from .errors import WarehouseError

__all__ = ["render_report", "write_report"]


def _table(headers: list[str], rows: list[tuple]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        lines.append("| " + " | ".join("" if cell is None else str(cell).replace("|", "\\|") for cell in row) + " |")
    return lines


def render_report(con: duckdb.DuckDBPyConnection, target: str) -> str:
    for table in ("validation_executability", "validation_errors"):
        found = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'marts' AND table_name = ?", [table]
        ).fetchall()[0][0]
        if not found:
            raise WarehouseError(f"the warehouse has no marts.{table}: run `make transform` after validating")
    lines = [f"# Validation on {target}", ""]
    runs = con.execute(
        "SELECT validation_run_id, server_name || ' ' || server_version, scope, status, pair_forms_planned, "
        "pair_forms_done, pair_forms_skipped, statements_executed, statements_refused, repeats, "
        "statement_timeout_s, row_cap, strftime(started_at, '%Y-%m-%d %H:%M:%S'), "
        "strftime(finished_at, '%Y-%m-%d %H:%M:%S') FROM raw.validation_invocations WHERE target = ? "
        "ORDER BY validation_run_id",
        [target],
    ).fetchall()
    if not runs:
        lines += [f"No validation run on {target} yet: `make validate TARGET={target}`.", ""]
        return "\n".join(lines)
    lines += ["## Runs", ""]
    lines += _table(
        ["run", "server", "scope", "status", "pair-forms planned", "done", "skipped (done before)", "statements",
         "refused", "repeats", "time limit (s)", "row cap", "started (UTC)", "finished (UTC)"],
        runs,
    )
    totals = con.execute(
        "SELECT form, sum(pairs), sum(executable_pairs), sum(flaky_pairs), sum(not_executable_pairs), "
        "sum(holds_pairs), sum(violated_pairs), sum(incomparable_pairs), sum(mixed_pairs) "
        "FROM marts.validation_executability WHERE target = ? GROUP BY form ORDER BY form",
        [target],
    ).fetchall()
    lines += ["", "## Executability", "",
              "Latest run per pair and form. Executable: both queries ran without error in every repeat with the "
              "same results; flaky: they ran but results or oracle changed between repeats. The oracle is "
              "PINOLO's (reference §6): *violated* and *incomparable* are what PINOLO reports as bugs.", ""]
    lines += _table(["form", "pairs", "executable", "flaky", "not executable", "oracle holds", "violated",
                     "incomparable", "mixed"], totals)
    per_strategy = con.execute(
        "SELECT form, strategy, dbms, pairs, executable_pairs, flaky_pairs, not_executable_pairs, "
        "printf('%.1f%%', 100 * executable_share), holds_pairs, violated_pairs, incomparable_pairs, mixed_pairs "
        "FROM marts.validation_executability WHERE target = ? ORDER BY form, strategy, dbms",
        [target],
    ).fetchall()
    lines += ["", "### Per strategy", "", "`dbms` is where PINOLO found the pair.", ""]
    lines += _table(["form", "strategy", "dbms", "pairs", "executable", "flaky", "not executable", "executable %",
                     "holds", "violated", "incomparable", "mixed"], per_strategy)
    errors = con.execute(
        "SELECT error_class, sum(pairs), sum(original_failures), sum(mutated_failures), "
        "string_agg(DISTINCT strategy, ', ' ORDER BY strategy), min(example_error) "
        "FROM marts.validation_errors WHERE target = ? GROUP BY error_class ORDER BY 2 DESC, 1",
        [target],
    ).fetchall()
    lines += ["", "## What the target rejects, by error class", ""]
    if errors:
        lines += ["Pair-forms per class (both forms counted); *known* marks a function the target's notes "
                  "(validation/targets.yml) list as missing.", ""]
        lines += _table(["error class", "pair-forms", "original failed", "mutated failed", "strategies",
                         "example message"], errors)
    else:
        lines += ["Every validated pair ran on both sides."]
    lines.append("")
    return "\n".join(lines)


def write_report(warehouse: str | Path, target: str, output: Path | None = None) -> Path:
    """Render the report for `target` from the warehouse (read-only) and write it; return its path."""
    con = connect(warehouse, read_only=True)
    try:
        text = render_report(con, target)
    finally:
        con.close()
    path = Path(output) if output else Path("data/validation") / target / "report.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
