"""`python -m validation` as a user runs it: its own throwaway server, the report, secrets kept out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from validation_helpers import ROOT, dbt_build, run_cli

PYTHON = sys.executable
PINOLOFT = str(Path(PYTHON).parent / "pinoloft")  # the front door `make` calls, beside this interpreter


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
    # From standard input the command reads one character past the limit, never the whole (3 MiB) text.
    huge = subprocess.run([PYTHON, "-m", "validation", "guard", "-"], input="SELECT 1 " + "x" * (3 << 20),
                          capture_output=True, text=True, timeout=120)
    assert (huge.returncode, huge.stdout.strip()) == (
        1, "refused: statement of 1048577 characters is over the 1048576 character limit")
    unknown = run_cli(PYTHON, "-m", "validation", "run", "--warehouse", str(tmp_path / "none.duckdb"),
                      "--target", "sqlite", "--server-dir", str(tmp_path / "m"), check=False)
    assert (unknown.returncode, unknown.stderr) == (
        2, "error: unknown target 'sqlite': targets.yml knows mariadb, mysql, oceanbase, tidb\n")
    # no warehouse at the path: a usage error before any server starts, and no file is made there
    absent = tmp_path / "none.duckdb"
    missing = run_cli(PYTHON, "-m", "validation", "--warehouse", str(absent), "run", "--server-dir",
                      str(tmp_path / "m"), check=False)
    assert (missing.returncode, missing.stderr) == (
        2, f"error: no warehouse at {absent}: build it with `make demo` or `make ingest transform` (or give "
        "--warehouse)\n")
    assert not absent.exists() and not (tmp_path / "m").exists()
    # one name for parallelism: --jobs/-j, at least 1
    zero = run_cli(PYTHON, "-m", "validation", "run", "-j", "0", check=False)
    assert zero.returncode == 2
    assert zero.stderr.splitlines()[-1] == ("python -m validation run: error: argument --jobs/-j: must be at "
                                            "least 1, not 0")


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
    # the server refused the login: an outside service's refusal (4)
    assert bad.returncode == 4 and f"error: cannot connect to 127.0.0.1:{port} as pinoloft_admin" in bad.stderr
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
    # Interrupt once the run has worked a while: the server's start (mariadb-install-db included) takes from
    # one to several seconds on a loaded machine, so wait for it, then for a few of the 1 s commits.
    deadline = time.monotonic() + 120
    while not (server_dir / "server.json").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(3.0)
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


def test_a_server_that_dies_mid_run_exits_4_and_marks_the_run_interrupted(warehouse, tmp_path):
    """The CLI's own throwaway server is killed (SIGKILL, as a crash) while pairs run: the runner's reconnects
    fail, ServerLost stops the run, and `python -m validation` exits 4 (an outside service failed)."""
    import subprocess
    import time

    from validation import ThrowawayServer
    from validation.errors import TargetError
    from validation.server import READER_USER, Endpoint, os_user

    server_dir = tmp_path / "mariadb"
    command = [PYTHON, "-m", "validation", "--quiet", "--warehouse", str(warehouse), "run", "--all", "--repeats",
               "40", "--server-dir", str(server_dir)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server = ThrowawayServer(server_dir)
    executing = False
    # Wait until the reader works inside a validation database (pairs are running), then kill the server.
    while not executing and process.poll() is None:
        state = server.running()
        if state is not None:
            # the administrator over the socket server.json names (as ThrowawayServer.admin, without its folders)
            admin = Endpoint(user=os_user(), unix_socket=state["socket"])
            try:
                with admin.connect() as connection, connection.cursor() as cursor:
                    cursor.execute("SELECT count(*) FROM information_schema.processlist WHERE user = %s "
                                   "AND db LIKE 'pinolo\\_%%'", (READER_USER,))
                    executing = cursor.fetchone()[0] > 0
            except TargetError:
                pass  # the server is still starting
        time.sleep(0.05)
    assert executing, process.communicate(timeout=120)[1]
    server.kill()
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 4, stderr
    last = stderr.splitlines()[-1]
    assert last.startswith("error: the server at socket ") and "went away" in last
    assert "; rerun to continue where this run stopped" in last
    with duckdb.connect(str(warehouse), read_only=True) as con:
        status, message = con.execute("SELECT status, message FROM raw.validation_invocations").fetchall()[0]
    assert status == "interrupted" and message == last.removeprefix("error: ")


# A password written to break out of the shell line the Makefile used to paste the DSN into ('…'), and out of
# make itself: each part creates a file (relative to make's folder) if anything ever parses it.
HOSTILE_PASSWORD = "';touch p;'$(touch q)`touch r`$(shell touch s)\\ \"x"


def _make(*args: str, cwd: Path, env: dict[str, str] | None = None, **popen) -> subprocess.Popen[str]:
    """`make -f <repo>/Makefile ARGS` from `cwd` (an empty folder, where an injected `touch` would land)."""
    return subprocess.Popen(["make", "--no-print-directory", "-f", str(ROOT / "Makefile"), f"PY={PYTHON}",
                             f"PINOLOFT={PINOLOFT}", *args],
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})}, **popen)


@pytest.mark.parametrize("password, error", [
    # the form: its '/' ends the DSN's host part early, so the CLI refuses the DSN itself
    ("';touch TMP/p;'x", "error: a DSN looks like mysql://user:password@host:port"),
    # whole DSNs: the CLI tries the server they name
    ("';touch p;'x", "error: cannot connect to 127.0.0.1:1 as u: "),
    (HOSTILE_PASSWORD, "error: cannot connect to 127.0.0.1:1 as u: "),
])
def test_make_validate_never_lets_the_shell_or_make_read_the_dsn(password, error, tmp_path):
    password = password.replace("TMP", str(tmp_path))
    folder = tmp_path / "make-runs-here"
    folder.mkdir()
    warehouse = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(warehouse)).close()
    make = _make("validate", f"WAREHOUSE={warehouse}", f"DSN=mysql://u:{password}@127.0.0.1:1", cwd=folder)
    stdout, stderr = make.communicate(timeout=300)
    assert list(folder.iterdir()) == [] and not (tmp_path / "p").exists()  # nothing ran
    assert make.returncode == 2 and "Traceback" not in stderr  # the CLI failed (exit 2 or 4), so make did
    assert "dbt" not in stdout + stderr  # a run that failed builds nothing after it
    assert stdout == "validating on mariadb (server from DSN)\n"
    assert error in stderr
    assert password not in stdout + stderr and "touch" not in stdout + stderr


def _processes_holding(secret: bytes) -> dict[int, bytes]:
    """Every process whose argv contains `secret` right now (pid -> argv), as `ps` would show it."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                argv = Path("/proc", entry, "cmdline").read_bytes()
            except OSError:
                continue  # ended meanwhile
            if secret in argv:
                found[int(entry)] = argv
    return found


@pytest.mark.parametrize("via", ["make DSN=", "PINOLOFT_DSN= make"])
def test_a_hostile_password_reaches_the_server_intact_and_never_an_argv_but_makes(via, warehouse, mariadb, tmp_path):
    """Against the real server: the account's password is the hostile one, so a finished run proves it arrived
    byte for byte. While the run goes on, no process but make itself (and with PINOLOFT_DSN not even make) has
    it in its argv; it is nowhere in the output or the warehouse; nothing it holds ran."""
    socket = mariadb.running()["socket"]
    with mariadb.admin().connect() as connection, connection.cursor() as cursor:
        cursor.execute("CREATE USER IF NOT EXISTS 'pinoloft_hostile'@'localhost' IDENTIFIED BY %s", (HOSTILE_PASSWORD,))
        cursor.execute("ALTER USER 'pinoloft_hostile'@'localhost' IDENTIFIED BY %s", (HOSTILE_PASSWORD,))
        cursor.execute("GRANT ALL PRIVILEGES ON *.* TO 'pinoloft_hostile'@'localhost' WITH GRANT OPTION")
    dsn = f"mysql://pinoloft_hostile:{HOSTILE_PASSWORD}@localhost/?unix_socket={socket}"
    folder = tmp_path / "make-runs-here"
    folder.mkdir()
    settings = ["validate", f"WAREHOUSE={warehouse}", "DATASET=demo", "REPEATS=1", "QUIET=--quiet"]
    if via == "make DSN=":
        dry_run = _make("-n", *settings, f"DSN={dsn}", cwd=folder)
        printed, _ = dry_run.communicate(timeout=60)
        assert dry_run.returncode == 0 and f"{PINOLOFT} --quiet --warehouse {warehouse} validate" in printed
        assert HOSTILE_PASSWORD not in printed  # the recipe make would hand to the shell never holds it
        make = _make(*settings, f"DSN={dsn}", cwd=folder)
    else:
        make = _make(*settings, cwd=folder, env={"PINOLOFT_DSN": dsn})

    secret, seen_holding, seen_validation = HOSTILE_PASSWORD.encode(), {}, False
    while make.poll() is None:
        seen_holding.update(_processes_holding(secret))
        # the CLI's argv alone holds "--warehouse W validate" (make's holds WAREHOUSE=W and the goal)
        cli_argv = b"--warehouse\0" + bytes(warehouse) + b"\0validate\0"
        seen_validation = seen_validation or bool(_processes_holding(cli_argv))
    stdout, stderr = make.communicate(timeout=300)
    assert make.returncode == 0, stderr
    assert seen_validation  # the scan did see the CLI's own process while it ran
    if via == "make DSN=":
        # make itself, and its forks in the instant before they exec a recipe's shell (same argv as make's)
        assert make.pid in seen_holding
        assert {argv for argv in seen_holding.values()} == {seen_holding[make.pid]}
    else:
        assert seen_holding == {}
    assert f"at socket {socket}, scope dataset:demo: finished" in stderr
    assert HOSTILE_PASSWORD not in stdout + stderr
    assert secret not in warehouse.read_bytes()
    # `make validate` then rebuilds dbt and writes the report (relative to make's folder): that file, nothing else
    written = sorted(path.relative_to(folder) for path in folder.rglob("*") if not path.is_dir())
    assert written == [Path("data/validation/mariadb/report.md")]
    assert not any((folder / name).exists() or (tmp_path / name).exists() for name in "pqrs")


def test_a_dsn_in_argv_is_a_usage_error_that_names_the_environment_variable(warehouse, tmp_path):
    for option, variable in (("--dsn", "PINOLOFT_DSN"), ("--reader-dsn", "PINOLOFT_READER_DSN")):
        refused = run_cli(PYTHON, "-m", "validation", "run", "--warehouse", str(warehouse), "--server-dir",
                          str(tmp_path / "mariadb"), option, "mysql://admin:Argv-Secret@127.0.0.1:3306", check=False)
        assert refused.returncode == 2 and refused.stdout == ""
        assert refused.stderr.splitlines()[-1] == (
            f"python -m validation run: error: {option} is not accepted: a DSN carries a password, which argv "
            f"shows to every user (ps); set {variable}=mysql://user:password@host:port in the environment instead")
        assert "Argv-Secret" not in refused.stderr
    assert not (tmp_path / "mariadb").exists()  # refused before anything started
