"""`pinoloft sql`: read-only SQL on a real warehouse file, in four formats, from argv, stdin or a prompt."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pinoloft.sql import QueryResult, render

ROOT = Path(__file__).resolve().parents[2]
PINOLOFT = [sys.executable, "-m", "pinoloft"]


@pytest.fixture
def warehouse(tmp_path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.pairs (strategy VARCHAR, pairs INTEGER, note VARCHAR)")
        con.execute("INSERT INTO marts.pairs VALUES ('FixMCmpOpU', 12, 'a|b'), ('FixMOn1U', 3, NULL), "
                    "('FixMWhere1U', 140, 'two\nlines')")
    return path


def _pinoloft(*args: str, input: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PINOLOFT, *args], cwd=ROOT, capture_output=True, text=True, input=input, timeout=60,
                          env={**os.environ, **env})


RESULT = QueryResult(("strategy", "pairs", "note"),
                     [("FixMCmpOpU", 12, "a|b"), ("FixMOn1U", 3, None), ("FixMWhere1U", 140, "two\nlines")])


def test_the_four_formats():
    assert render(RESULT, "table") == (
        "strategy     pairs  note\n"
        "-----------  -----  ----------\n"
        "FixMCmpOpU      12  a|b\n"
        "FixMOn1U         3  NULL\n"
        "FixMWhere1U    140  two\\nlines\n"
        "(3 rows)\n")
    assert render(RESULT, "csv") == 'strategy,pairs,note\nFixMCmpOpU,12,a|b\nFixMOn1U,3,\nFixMWhere1U,140,"two\nlines"\n'
    assert render(RESULT, "markdown") == (
        "| strategy | pairs | note |\n|---|---|---|\n| FixMCmpOpU | 12 | a\\|b |\n| FixMOn1U | 3 | NULL |\n"
        "| FixMWhere1U | 140 | two\\nlines |\n")
    assert render(RESULT, "json") == (
        '[\n {\n  "strategy": "FixMCmpOpU",\n  "pairs": 12,\n  "note": "a|b"\n },\n {\n  "strategy": "FixMOn1U",\n'
        '  "pairs": 3,\n  "note": null\n },\n {\n  "strategy": "FixMWhere1U",\n  "pairs": 140,\n'
        '  "note": "two\\nlines"\n }\n]\n')
    assert render(QueryResult(("n",), []), "table") == "n\n-\n(0 rows)\n"


def test_a_query_from_argv_or_stdin(warehouse):
    done = _pinoloft("--warehouse", str(warehouse), "sql", "SELECT strategy, pairs FROM marts.pairs ORDER BY pairs")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == ("strategy     pairs\n-----------  -----\nFixMOn1U         3\nFixMCmpOpU      12\n"
                           "FixMWhere1U    140\n(3 rows)\n")
    piped = _pinoloft("-w", str(warehouse), "sql", "--format", "csv", input="SELECT sum(pairs) AS total FROM marts.pairs")
    assert (piped.returncode, piped.stdout) == (0, "total\n155\n")


def test_the_warehouse_is_read_only_and_errors_are_one_line(warehouse, tmp_path):
    refused = _pinoloft("-w", str(warehouse), "sql", "DROP TABLE marts.pairs")
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.startswith("error: Invalid Input Error: Cannot execute statement of type \"DROP\"")
    assert "Traceback" not in refused.stderr
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.pairs").fetchall() == [(3,)]
    unknown = _pinoloft("-w", str(warehouse), "sql", "SELECT nope FROM marts.pairs")
    assert unknown.returncode == 2 and unknown.stderr.startswith('error: Binder Error: Referenced column "nope"')
    missing = _pinoloft("-w", str(tmp_path / "none.duckdb"), "sql", "SELECT 1")
    assert (missing.returncode, missing.stderr) == (
        2, f"error: no warehouse at {tmp_path / 'none.duckdb'}: build it with `make demo` or `make ingest transform` "
           "(or give --warehouse)\n")


def test_a_warehouse_held_by_a_writer_is_exit_3(warehouse):
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('held', flush=True); time.sleep(60)", str(warehouse)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        busy = _pinoloft("-w", str(warehouse), "sql", "SELECT 1")
        assert (busy.returncode, busy.stderr) == (
            3, f"error: the warehouse {warehouse} is in use by another process (PID {holder.pid}); wait for it "
               "or close it\n")
    finally:
        holder.kill()
        holder.wait()


def test_version_and_global_options_before_or_after_the_subcommand(warehouse, tmp_path):
    version = _pinoloft("--version")
    assert (version.returncode, version.stdout) == (0, "pinoloft 0.1.0\n")
    late = _pinoloft("sql", "--warehouse", str(warehouse), "--format", "csv", "SELECT count(*) AS n FROM marts.pairs")
    assert (late.returncode, late.stdout) == (0, "n\n3\n")
    # After the subcommand it overrides the one before it.
    both = _pinoloft("-w", str(tmp_path / "none.duckdb"), "sql", "-w", str(warehouse), "-f", "csv", "SELECT 1 AS one")
    assert (both.returncode, both.stdout) == (0, "one\n1\n")


def test_the_prompt_on_a_terminal_spans_lines_survives_errors_and_keeps_history(warehouse, tmp_path):
    """A real pseudo-terminal, as a person at the keyboard: readline, multi-line queries, an error that does
    not end the session, history written to ~/.pinoloft_history."""
    controller, terminal = os.openpty()
    process = subprocess.Popen([*PINOLOFT, "-w", str(warehouse), "sql"], cwd=ROOT, stdin=terminal, stdout=terminal,
                               stderr=terminal, env={**os.environ, "HOME": str(tmp_path), "TERM": "dumb"},
                               close_fds=True)
    os.close(terminal)
    for line in ("SELECT strategy", "FROM marts.pairs WHERE pairs > 100;", "SELECT nope;", ".quit"):
        os.write(controller, (line + "\n").encode())
        time.sleep(0.3)
    output = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not select.select([controller], [], [], 1.0)[0]:
            continue  # nothing yet: wait on, until the deadline (a hung prompt fails below, never blocks)
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed: the program ended
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    assert process.wait(timeout=30) == 1  # one query failed
    text = output.decode().replace("\r\n", "\n")
    assert "strategy\n-----------\nFixMWhere1U\n(1 row)\n" in text
    assert "     ...> " in text  # the continuation prompt of the two-line query
    assert 'error: Binder Error: Referenced column "nope"' in text
    history = (tmp_path / ".pinoloft_history").read_text()
    assert "FROM marts.pairs WHERE pairs > 100;" in history and "SELECT nope;" in history
