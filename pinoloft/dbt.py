"""Running dbt on the warehouse: `dbt build` for the transform, `dbt docs generate --static` for the docs page.

dbt runs as a child process (its own logging and its DuckDB connection stay out of ours) with the project's
fixed environment: the warehouse as an absolute path, no usage statistics and no version check (there is no
network at run time), and colours only when a person watches the output.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from pinoloft_base.errors import EXIT_FINDINGS, PinoloftError, WarehouseError
from pinoloft_base.warehouse import connect

__all__ = ["DBT_PROJECT", "DbtError", "build", "dbt_environment", "docs", "run_summary", "static_docs_page"]

# The repository's dbt project (an editable install: the package sits beside it).
DBT_PROJECT = Path(__file__).resolve().parents[1] / "dbt_project"


class DbtError(PinoloftError):
    """dbt failed: a model that does not build or a data test that fails (a finding about the data); dbt's
    own output above says which."""

    exit_code = EXIT_FINDINGS


def dbt_executable() -> str:
    """The dbt of this environment (beside the running Python, as `make setup` installs it), else PATH's."""
    beside = Path(sys.executable).with_name("dbt")
    if beside.is_file():
        return str(beside)
    found = shutil.which("dbt")
    if found is None:
        raise PinoloftError("dbt is not installed in this environment: run `make setup`")
    return found


def dbt_environment(warehouse: str | os.PathLike[str], *, colours: bool | None = None) -> dict[str, str]:
    """The environment dbt runs with (the parent's, plus the warehouse and the settings above)."""
    if colours is None:
        colours = sys.stdout.isatty()
    return {
        **os.environ,
        "PINOLOFT_WAREHOUSE": os.path.abspath(warehouse),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DBT_NO_VERSION_CHECK": "True",
        "DBT_USE_COLORS": "True" if colours else "False",
    }


def _run_dbt(warehouse: str | os.PathLike[str], arguments: list[str], quiet: bool) -> None:
    if not os.path.isfile(warehouse):
        raise WarehouseError(f"no warehouse at {warehouse}: run `pinoloft ingest` first (or `make demo`)")
    # Opened once here so a file that is not DuckDB's, or one a writing stage holds, gets our one-line error
    # (exit 2 or 3) rather than dbt's page of connection output.
    connect(warehouse, read_only=True).close()
    command = [dbt_executable(), *arguments, "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT)]
    if quiet:
        command.append("--quiet")
    # stdout and stderr stay the terminal's: dbt's own lines (which model failed and why) are the message.
    done = subprocess.run(command, env=dbt_environment(warehouse), check=False)
    if done.returncode != 0:
        raise DbtError(f"dbt {arguments[0]} failed (exit {done.returncode}); its output above names the model "
                       "or test")


def build(warehouse: str | os.PathLike[str], *, quiet: bool = True, select: str | None = None) -> str:
    """`dbt build`: staging -> intermediate -> marts, with every data test; DbtError when anything fails.
    Returns the one-line summary of what was built (`run_summary`)."""
    _run_dbt(warehouse, ["build", *(["--select", select] if select else [])], quiet)
    return run_summary(DBT_PROJECT / "target" / "run_results.json")


def run_summary(run_results: Path) -> str:
    """`dbt build: 30 models, 2 seeds, 93 tests passed in 2.7s` from dbt's run_results.json (the counts by
    node kind; anything that did not pass or succeed is named by status)."""
    results = json.loads(run_results.read_text(encoding="utf-8"))
    counts: dict[str, int] = {}
    other: dict[str, int] = {}
    for node in results["results"]:
        kind = node["unique_id"].split(".", 1)[0]
        counts[kind] = counts.get(kind, 0) + 1
        if node["status"] not in ("success", "pass"):
            other[node["status"]] = other.get(node["status"], 0) + 1
    built = ", ".join(f"{count} {kind}{'s' if count != 1 else ''}" for kind, count in counts.items())
    tail = "".join(f", {count} {status}" for status, count in sorted(other.items()))
    return f"dbt build: {built or 'nothing'}{tail} in {results['elapsed_time']:.1f}s"


def static_docs_page() -> Path:
    return DBT_PROJECT / "target" / "static_index.html"


def docs(warehouse: str | os.PathLike[str], *, quiet: bool = True) -> Path:
    """`dbt docs generate --static`: one self-contained HTML page (manifest and catalog inside) that a
    browser opens from disk; its path."""
    _run_dbt(warehouse, ["docs", "generate", "--static"], quiet)
    return static_docs_page()
