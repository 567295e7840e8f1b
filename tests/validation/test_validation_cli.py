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


def test_another_server_by_dsn_over_tcp(warehouse, mariadb):
    """A server we did not start: an admin DSN (from the environment) loads the data and creates the
    read-only account; the password shows up nowhere."""
    password = "Adm1n-Secret-Pa55"
    port = mariadb.running()["port"]
    with mariadb.admin().connect() as connection, connection.cursor() as cursor:
        cursor.execute("CREATE USER IF NOT EXISTS 'pinoloft_admin'@'127.0.0.1' IDENTIFIED BY %s", (password,))
        cursor.execute("GRANT ALL PRIVILEGES ON *.* TO 'pinoloft_admin'@'127.0.0.1' WITH GRANT OPTION")
    result = run_cli(PYTHON, "-m", "validation", "run", "--warehouse", str(warehouse), "--dataset", "demo",
                     "--repeats", "1", env={"PINOLOFT_DSN": f"mysql://pinoloft_admin:{password}@127.0.0.1:{port}"})
    assert f"at 127.0.0.1:{port}, scope dataset:demo: finished" in result.stderr
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT endpoint, status FROM raw.validation_invocations").fetchall() == [
            (f"127.0.0.1:{port}", "finished")]
    assert password not in result.stdout + result.stderr
    assert password.encode() not in warehouse.read_bytes()
    bad = run_cli(PYTHON, "-m", "validation", "run", "--warehouse", str(warehouse),
                  env={"PINOLOFT_DSN": f"mysql://pinoloft_admin:wrong-{password}@127.0.0.1:{port}"}, check=False)
    assert bad.returncode == 1 and f"cannot connect to 127.0.0.1:{port} as pinoloft_admin" in bad.stderr
    assert password not in bad.stderr


def test_ctrl_c_keeps_committed_work_and_a_rerun_continues(warehouse, tmp_path):
    import signal
    import subprocess
    import time

    from validation_helpers import ROOT

    server_dir = tmp_path / "mariadb"
    command = [PYTHON, "-m", "validation", "--quiet", "run", "--warehouse", str(warehouse), "--all", "--repeats", "40",
               "--server-dir", str(server_dir)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4.0)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "interrupted: committed work is kept; rerun to continue" in stderr
    with duckdb.connect(str(warehouse), read_only=True) as con:
        status, done = con.execute("SELECT status, pair_forms_done FROM raw.validation_invocations").fetchall()[0]
        logged, rows = con.execute("SELECT count(DISTINCT (pair_hash, form)), count(*) FROM raw.validation_runs").fetchall()[0]
    assert status == "interrupted" and 0 < done == logged and rows == logged * 40

    rerun = run_cli(*command)
    assert "validation run 1 (resumed)" in rerun.stderr and ": finished" in rerun.stderr
    with duckdb.connect(str(warehouse), read_only=True) as con:
        pair_forms, rows, distinct_rows = con.execute(
            "SELECT count(DISTINCT (pair_hash, form)), count(*), count(DISTINCT (pair_hash, form, repeat_index)) "
            "FROM raw.validation_runs").fetchall()[0]
        planned = con.execute("SELECT pair_forms_planned FROM raw.validation_invocations").fetchall()[0][0]
    assert pair_forms == planned and rows == distinct_rows == planned * 40
    assert not (server_dir / "server.json").exists()  # the run stopped the server it started, both times
