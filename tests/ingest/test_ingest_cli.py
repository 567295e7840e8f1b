"""The ingest command line follows the project's CLI contract: `--jobs` for parallelism, the global options
before or after the subcommand, and one exit code per kind of error (pinoloft_base.cli.EXIT_CODES)."""

from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from ingest_helpers import all_files, scalar

from ingest.cli import (add_check_command, add_datasets_command, add_load_command, add_synthesize_command,
                        build_parser, main)
from ingest.errors import (DatasetConfigError, IngestError, ReconciliationError, SourceError, StepOrderError,
                           UnknownDatasetError, WarehouseBusyError, WarehouseError)
from pinoloft_base.cli import command_parser

VALID = """
dbms: [mysql]
strategies: [FixMDistinctL, FixMCmpOpU, FixMWhere0L]
quota: 5
max_length: 3000
form: sqlsim
seed: 42
top_up: {top_up}
"""


def _datasets(folder: Path, top_up: str = "false", name: str = "small.yml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(VALID.format(top_up=top_up)))
    return folder


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """Run from an empty folder, so a command that wrongly fell back on the default warehouse
    (data/warehouse.duckdb) would leave it there instead of in the repository."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def test_every_error_kind_carries_its_exit_code():
    codes = {kind: kind.exit_code for kind in (IngestError, SourceError, DatasetConfigError, UnknownDatasetError,
                                               StepOrderError, ReconciliationError, WarehouseError,
                                               WarehouseBusyError)}
    assert codes == {IngestError: 2, SourceError: 2, DatasetConfigError: 2, UnknownDatasetError: 2,
                     StepOrderError: 2, ReconciliationError: 1, WarehouseError: 2, WarehouseBusyError: 3}


def test_load_takes_jobs_and_no_longer_workers(clean_tree, tmp_path, elsewhere, capsys):
    root, _ = clean_tree
    warehouse = tmp_path / "w.duckdb"
    n = len(all_files(root))
    assert main(["load", "--root", str(root), "--warehouse", str(warehouse), "--jobs", "2"]) == 0
    assert scalar(warehouse, "SELECT files_loaded FROM raw.ingest_runs") == n
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"files seen {n} = loaded {n} + quarantined 0 + skipped as unchanged 0; vanished 0")
    assert main(["load", "--root", str(root), "--warehouse", str(warehouse), "-j", "1"]) == 0
    assert scalar(warehouse, "SELECT max(ingest_run_id) FROM raw.ingest_runs") == 2

    for wrong, message in ((["--workers", "2"], "unrecognized arguments: --workers 2"),
                           (["--jobs", "0"], "argument --jobs/-j: must be at least 1, not 0"),
                           (["-j", "many"], "argument --jobs/-j: not a whole number: 'many'")):
        with pytest.raises(SystemExit) as exited:
            main(["load", "--root", str(root), "--warehouse", str(warehouse), *wrong])
        assert exited.value.code == 2, wrong
        assert message in capsys.readouterr().err
    assert scalar(warehouse, "SELECT max(ingest_run_id) FROM raw.ingest_runs") == 2
    assert not (elsewhere / "data").exists()


def test_global_options_work_after_the_subcommand_too(tmp_path, elsewhere, capsys):
    folder = _datasets(tmp_path / "datasets")
    first, second = tmp_path / "first.duckdb", tmp_path / "second.duckdb"
    assert main(["datasets", "--dir", str(folder), "--warehouse", str(first)]) == 0
    assert scalar(first, "SELECT count(DISTINCT dataset_name) FROM raw.dataset_configs") == 1
    # given on both sides, the one after the subcommand wins
    assert main(["-w", str(first), "datasets", "--dir", str(folder), "-w", str(second)]) == 0
    assert scalar(second, "SELECT count(*) FROM raw.dataset_configs") == 3
    assert not (elsewhere / "data").exists()
    capsys.readouterr()

    assert main(["datasets", "--dir", str(folder), "--require", "small"]) == 0
    assert capsys.readouterr().err == f"dataset small is defined in {folder / 'small.yml'}\n"
    assert main(["datasets", "--dir", str(folder), "--require", "small", "--quiet"]) == 0
    assert main(["--quiet", "datasets", "--dir", str(folder), "--require", "small"]) == 0
    assert capsys.readouterr().err == ""

    parsed = build_parser().parse_args(["check", "-v", "-w", "x.duckdb"])
    assert (parsed.verbose, parsed.quiet, parsed.warehouse, parsed.jobs) == (True, False, "x.duckdb", None)
    assert build_parser().parse_args(["check"]).warehouse == "data/warehouse.duckdb"


def test_errors_of_each_kind_exit_with_their_code(clean_tree, tmp_path, elsewhere, capsys):
    root, _ = clean_tree
    warehouse = tmp_path / "w.duckdb"
    folder = tmp_path / "datasets"

    def run(*argv: str) -> tuple[int, str]:
        code = main(list(argv))
        return code, capsys.readouterr().err

    # input errors (2): a missing root, a missing dataset folder, a bad config, an unknown dataset, no warehouse
    assert run("load", "--root", str(tmp_path / "nope"), "-w", str(warehouse)) == (
        2, f"error: no such directory: {tmp_path / 'nope'}\n")
    assert run("datasets", "--dir", str(folder), "-w", str(warehouse)) == (2, f"error: no dataset folder {folder}\n")
    _datasets(folder, top_up="true")
    (folder / "bad.yml").write_text(textwrap.dedent(VALID.format(top_up="false")).replace("quota: 5", "quota: lots"))
    assert run("datasets", "--dir", str(folder), "-w", str(warehouse)) == (
        2, f"error: {folder / 'bad.yml'}: key 'quota': must be an integer >= 0 or \"all\", got 'lots'\n")
    (folder / "bad.yml").unlink()
    assert run("datasets", "--dir", str(folder), "--require", "smal") == (
        2, f"error: unknown dataset 'smal': the configs in {folder} define small\n")
    assert run("check", "-w", str(warehouse)) == (
        2, f"error: no warehouse at {warehouse}: run `pinoloft ingest` first\n")
    assert run("synthesize", "-w", str(warehouse)) == (
        2, f"error: no warehouse at {warehouse}: run `pinoloft ingest` first\n")
    assert not warehouse.exists()

    # steps in the wrong order (2): top-ups need the verdicts of `check` first
    assert run("load", "--root", str(root), "-w", str(warehouse), "-q")[0] == 0
    assert run("datasets", "--dir", str(folder), "-w", str(warehouse))[0] == 0
    pending = scalar(warehouse, "SELECT count(DISTINCT pair_hash) FROM raw.bug_reports")
    assert pending > 0
    assert run("synthesize", "-w", str(warehouse)) == (
        2, f"error: {pending} pair(s) of raw.bug_reports have no verdict yet: run `pinoloft check` before "
           "the top-ups\n")
    assert scalar(warehouse, "SELECT count(*) FROM raw.synthetic_pairs") == 0
    assert run("check", "-w", str(warehouse), "--jobs", "1")[0] == 0
    assert scalar(warehouse, "SELECT count(*) FROM raw.mutation_verdicts") >= pending
    assert run("synthesize", "-w", str(warehouse))[0] == 0
    assert not (elsewhere / "data").exists()


def test_a_warehouse_held_by_another_process_exits_3(tmp_path, elsewhere, capsys):
    folder = _datasets(tmp_path / "datasets")
    warehouse = tmp_path / "w.duckdb"
    # A second process opens the warehouse for writing (DuckDB lets one process do that) and holds it
    # until its stdin closes.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, duckdb; con = duckdb.connect(sys.argv[1]); print('holding', flush=True); "
                               "sys.stdin.read()", str(warehouse)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "holding\n"  # type: ignore[union-attr]
        code = main(["datasets", "--dir", str(folder), "--warehouse", str(warehouse)])
    finally:
        holder.stdin.close()  # type: ignore[union-attr]
        holder.wait(timeout=60)
    assert (code, capsys.readouterr().err) == (
        3, f"error: the warehouse {warehouse} is in use by another process (PID {holder.pid}); "
           "wait for it or close it\n")
    assert main(["datasets", "--dir", str(folder), "--warehouse", str(warehouse)]) == 0  # free again


def test_the_front_door_names_the_subcommands_as_it_likes():
    """`pinoloft ingest` is ingest's `load`: the add_* functions take the name and carry their handler."""
    parser, commands = command_parser("pinoloft", "the front door")
    added = [add_load_command(commands, "ingest"), add_check_command(commands, "check"),
             add_datasets_command(commands, "datasets"), add_synthesize_command(commands, "top-up")]
    assert [sub.prog for sub in added] == ["pinoloft ingest", "pinoloft check", "pinoloft datasets", "pinoloft top-up"]
    args = parser.parse_args(["ingest", "--root", "r", "-j", "3", "-w", "w.duckdb", "-q"])
    assert (args.handler.__name__, args.root, args.jobs, args.warehouse, args.quiet) == (
        "cmd_load", "r", 3, "w.duckdb", True)
    assert parser.parse_args(["top-up"]).handler.__name__ == "cmd_synthesize"
