"""`python -m validation` as a user runs it: its own throwaway server, the report, secrets kept out."""

from __future__ import annotations

import json
import sys

import duckdb

from validation_helpers import dbt_build, run_cli

PYTHON = sys.executable


def test_run_then_report_with_a_server_of_its_own(warehouse, tmp_path):
    server_dir = tmp_path / "mariadb"
    first = run_cli(PYTHON, "-m", "validation", "--quiet", "run", "--warehouse", str(warehouse), "--dataset", "demo",
                    "--repeats", "2", "--server-dir", str(server_dir), "--keep-server")
    assert "validation run 1 (new) on mariadb" in first.stderr and ": finished" in first.stderr
    assert "FUNCTION format_bytes does not exist [known: MariaDB has no FORMAT_BYTES]" in first.stderr
    status = run_cli(PYTHON, "-m", "validation", "server", "status", "--server-dir", str(server_dir))
    assert "running (pid" in status.stderr

    # a second run continues nothing and skips everything; without --keep-server it leaves the server as it found it
    second = run_cli(PYTHON, "-m", "validation", "--quiet", "run", "--warehouse", str(warehouse), "--dataset", "demo",
                     "--repeats", "2", "--server-dir", str(server_dir))
    assert "validation run 2 (new)" in second.stderr and "done 0 + skipped (done before)" in second.stderr
    run_cli(PYTHON, "-m", "validation", "server", "stop", "--server-dir", str(server_dir))
    stopped = run_cli(PYTHON, "-m", "validation", "server", "status", "--server-dir", str(server_dir), check=False)
    assert stopped.returncode == 1 and "not running" in stopped.stderr

    dbt_build(warehouse)
    report_path = tmp_path / "report.md"
    run_cli(PYTHON, "-m", "validation", "report", "--warehouse", str(warehouse), "--output", str(report_path))
    report = report_path.read_text()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        pairs, executable = con.execute(
            "SELECT sum(pairs), sum(executable_pairs) FROM marts.validation_executability WHERE form = 'raw'").fetchall()[0]
        format_bytes = con.execute(
            "SELECT sum(pairs) FROM marts.validation_errors WHERE error_class LIKE 'FUNCTION format_bytes%'").fetchall()[0][0]
    assert report.startswith("# Validation on mariadb\n")
    assert "## Executability" in report and "### Per strategy" in report
    assert f"| raw | {pairs} | {executable} |" in report
    assert f"| FUNCTION format_bytes does not exist [known: MariaDB has no FORMAT_BYTES] | {format_bytes} |" in report

    # the reader's password is in the server folder (mode 0600) and nowhere else
    secret = json.loads((server_dir / "secrets.json").read_text())["reader_password"]
    assert (server_dir / "secrets.json").stat().st_mode & 0o777 == 0o600
    assert secret not in first.stderr + second.stderr + report
    assert secret.encode() not in warehouse.read_bytes()


def test_guard_command_and_usage_errors(tmp_path):
    accepted = run_cli(PYTHON, "-m", "validation", "guard", "SELECT 1")
    assert accepted.stdout.strip() == "accepted: one SELECT/WITH statement"
    refused = run_cli(PYTHON, "-m", "validation", "guard", "SELECT 1; DROP TABLE t", check=False)
    assert (refused.returncode, refused.stdout.strip()) == (1, "refused: more than one statement (';' at char 8)")
    unknown = run_cli(PYTHON, "-m", "validation", "run", "--warehouse", str(tmp_path / "none.duckdb"),
                      "--target", "sqlite", "--server-dir", str(tmp_path / "m"), check=False)
    assert unknown.returncode == 1
    assert "unknown target 'sqlite': targets.yml knows mariadb, mysql, oceanbase, tidb" in unknown.stderr
