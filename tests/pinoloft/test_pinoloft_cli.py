"""The `pinoloft` front door: one parser over every stage, the exit-code table, and dbt run on its behalf."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pinoloft.cli import build_parser, main
from pinoloft.dbt import run_summary
from pinoloft_base.cli import EXIT_CODES

ROOT = Path(__file__).resolve().parents[2]
PINOLOFT = [sys.executable, "-m", "pinoloft"]
SUBCOMMANDS = ["ingest", "check", "datasets", "transform", "dbt-build", "validate", "validation-report", "server",
               "guard", "export", "check-export", "train", "serve", "evaluate", "jobs", "experiments", "sql", "docs",
               "identify", "generate"]


def _pinoloft(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PINOLOFT, *args], cwd=ROOT, capture_output=True, text=True, timeout=300, **kwargs)


def test_help_lists_the_stages_in_order_and_the_exit_code_table():
    shown = _pinoloft("--help")
    assert shown.returncode == 0
    listed = [line.split()[0] for line in shown.stdout.split("positional arguments:")[1].split("options:")[0]
              .splitlines()[2:] if line.startswith("    ") and not line.startswith("     ")]
    assert listed == SUBCOMMANDS
    table = shown.stdout.split("exit codes:\n", 1)[1].splitlines()
    assert [int(line.split()[0]) for line in table] == list(EXIT_CODES)
    assert table[3] == "  3    the warehouse is in use by another process (a writing stage): wait for it, then rerun"


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help_and_takes_the_global_options_after_it(command, capsys):
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([command, "--help"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: pinoloft {command} ")
    needs = {"ingest": ["--root", "x"], "train": ["--dataset", "d"], "serve": ["--model-dir", "m"],
             "evaluate": ["--dataset", "d", "--models", "reference"], "jobs": ["list"], "server": ["status"],
             "guard": ["SELECT 1"], "check-export": ["f.jsonl"], "generate": ["--root", "x"],
             "identify": ["--input", "pairs.jsonl"]}
    args = build_parser().parse_args([command, *needs.get(command, []), "-q", "-w", "elsewhere.duckdb"])
    assert (args.quiet, args.warehouse, callable(args.handler)) == (True, "elsewhere.duckdb", True)


def test_one_name_for_parallelism():
    for command, extra in (("ingest", ["--root", "x"]), ("check", []), ("transform", []), ("validate", []),
                           ("export", []), ("evaluate", ["--dataset", "d", "--models", "reference"]),
                           ("generate", ["--root", "x"])):
        assert build_parser().parse_args([command, *extra, "--jobs", "3"]).jobs == 3, command
        assert build_parser().parse_args([command, *extra, "-j", "2"]).jobs == 2, command
    refused = _pinoloft("check", "--jobs", "0")
    assert refused.returncode == 2 and "argument --jobs/-j: must be at least 1, not 0" in refused.stderr


def test_dbt_summary_counts_what_run_results_says(tmp_path):
    results = tmp_path / "run_results.json"
    results.write_text(json.dumps({"elapsed_time": 2.66, "results": [
        {"unique_id": "model.pinoloft.a", "status": "success"}, {"unique_id": "model.pinoloft.b", "status": "success"},
        {"unique_id": "seed.pinoloft.s", "status": "success"}, {"unique_id": "test.pinoloft.t1", "status": "pass"},
        {"unique_id": "test.pinoloft.t2", "status": "warn"}]}))
    assert run_summary(results) == "dbt build: 2 models, 1 seed, 2 tests, 1 warn in 2.7s"


def test_dbt_colours_only_when_a_person_watches():
    """dbt writes ANSI colour codes unless told otherwise: only when stdout is a terminal."""
    probe = [sys.executable, "-c", "from pinoloft.dbt import dbt_environment; "
             "print(dbt_environment('w.duckdb')['DBT_USE_COLORS'])"]
    piped = subprocess.run(probe, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert piped.stdout == "False\n"
    controller, terminal = os.openpty()
    try:
        subprocess.run(probe, cwd=ROOT, stdout=terminal, timeout=60, check=True)
        assert os.read(controller, 100) == b"True\r\n"
    finally:
        os.close(terminal)
        os.close(controller)


def test_a_failing_dbt_test_is_a_finding_and_an_unusable_warehouse_an_input_error(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute((ROOT / "tests" / "dbt" / "raw_schema.sql").read_text())
        # two ingest runs with one id: the key test of the staging model fails
        con.execute("INSERT INTO raw.ingest_runs (ingest_run_id, source_root) VALUES (7, 'a'), (7, 'b')")
    failed = _pinoloft("-w", str(warehouse), "dbt-build")
    assert failed.returncode == 1
    assert failed.stderr.splitlines()[-1] == ("error: dbt build failed (exit 1); its output above names the model "
                                              "or test")
    assert "unique_stg_pinoloft__ingest_runs_ingest_run_id" in failed.stdout
    not_duckdb = tmp_path / "notes.duckdb"
    not_duckdb.write_text("not a database\n")
    refused = _pinoloft("-w", str(not_duckdb), "dbt-build")
    assert refused.returncode == 2 and refused.stderr.startswith(f"error: cannot open the warehouse {not_duckdb} "
                                                                 "read-only: ")


def test_main_returns_the_code_instead_of_exiting(tmp_path, capsys):
    assert main(["-w", str(tmp_path / "none.duckdb"), "docs"]) == 2
    assert capsys.readouterr().err == (f"error: no warehouse at {tmp_path / 'none.duckdb'}: run `pinoloft ingest` "
                                       "first (or `make demo`)\n")


def test_identify_through_the_front_door(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"original": "SELECT * FROM t WHERE c > 1", "mutated": "SELECT * FROM t WHERE c >= 1", "id": 1}\n'
                     '{"original": "SELECT 1", "mutated": "SELECT 2", "id": 2}\n')
    done = _pinoloft("identify", "--input", str(pairs))
    assert done.returncode == 0
    assert [json.loads(line) for line in done.stdout.splitlines()] == [
        {"original": "SELECT * FROM t WHERE c > 1", "mutated": "SELECT * FROM t WHERE c >= 1", "id": 1,
         "identified": [{"strategy": "FixMCmpOpU", "is_upper": True, "reversed": False},
                        {"strategy": "FixMCmpOpL", "is_upper": False, "reversed": True}]},
        {"original": "SELECT 1", "mutated": "SELECT 2", "id": 2, "identified": []},
    ]
    assert done.stderr == "identify: 2 pair(s): 1 explained by a strategy (0 only when read backwards), 1 by none\n"


def test_ingest_pairs_nests_under_ingest_and_ingest_alone_needs_a_root(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    loaded = _pinoloft("-w", str(warehouse), "ingest", "pairs", "--input", "examples/external-pairs.jsonl",
                       "--source", "hand-written")
    assert loaded.returncode == 0, loaded.stderr
    assert "lines 8 = stored 5 + quarantined 2 + duplicates 1; 2 stored the right way round (written backwards)" \
        in loaded.stderr.splitlines()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*), min(source), max(source) FROM raw.external_pairs").fetchall() == [
            (5, "hand-written", "hand-written")]
    bare = _pinoloft("-w", str(warehouse), "ingest")
    assert (bare.returncode, bare.stderr) == (2, "error: ingest needs --root DIR (a PINOLO tree), or `ingest pairs "
                                                 "--input FILE --source NAME` for pairs from outside PINOLO\n")
