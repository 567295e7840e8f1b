"""The runner every command line uses: global options on either side of the subcommand, `--jobs`, and the one
error path from an exception to `error: …` on stderr and the exit code of the table."""

from __future__ import annotations

import argparse
import importlib.metadata
import errno

import pytest

from pinoloft_base.cli import (EXIT_CODES, EXIT_CODES_HELP, command_parser, jobs_option, pinoloft_version, run,
                               subcommand)
from pinoloft_base.console import is_quiet
from pinoloft_base.errors import PinoloftError, ServiceFailure, WarehouseBusyError, WarehouseError
from pinoloft_base.warehouse import DEFAULT_WAREHOUSE


class Finding(PinoloftError):
    exit_code = 1


class UnhandledHere(Exception):
    pass


def build(raising: BaseException | None = None) -> tuple[argparse.ArgumentParser, list[argparse.Namespace]]:
    """A two-level parser as a package builds one; `go` records the namespace it got, or raises `raising`."""
    seen: list[argparse.Namespace] = []

    def go(args: argparse.Namespace) -> int:
        seen.append(args)
        if raising is not None:
            raise raising
        return 0

    parser, commands = command_parser("tool", "a tool of tests")
    sub = subcommand(commands, "go", help="record the options")
    jobs_option(sub, "workers")
    sub.set_defaults(handler=go)
    return parser, seen


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (PinoloftError("the dataset 'x' is not configured"), 2),
        (WarehouseError("no warehouse at w.duckdb"), 2),
        (WarehouseBusyError("the warehouse w.duckdb is in use by another process"), 3),
        (ServiceFailure("the API refused the job"), 4),
        (Finding("3 checks failed"), 1),
        (FileNotFoundError(errno.ENOENT, "No such file or directory", "pairs.jsonl"), 2),
    ],
)
def test_an_error_is_one_line_and_its_exit_code(error, code, capsys):
    parser, _ = build(error)
    assert run(parser, ["go"]) == code
    assert capsys.readouterr() == ("", f"error: {error}\n")


def test_ctrl_c_is_130_with_the_commands_own_words(capsys):
    parser, _ = build(KeyboardInterrupt())
    assert run(parser, ["go"], interrupted="interrupted: rerun to resume") == 130
    assert capsys.readouterr().err == "interrupted: rerun to resume\n"


def test_other_exceptions_go_through_the_packages_mapping_or_are_raised(capsys):
    parser, _ = build(UnhandledHere("a driver's own error"))
    assert run(parser, ["go"], errors=lambda e: 4 if isinstance(e, UnhandledHere) else None) == 4
    assert capsys.readouterr().err == "error: a driver's own error\n"
    with pytest.raises(UnhandledHere):
        run(parser, ["go"], errors=lambda e: None)
    with pytest.raises(ZeroDivisionError):
        run(build(ZeroDivisionError("a bug of ours"))[0], ["go"])  # a bug keeps its traceback


def test_the_handlers_code_is_the_exit_code():
    parser, commands = command_parser("tool", "a tool of tests")
    subcommand(commands, "fail", help="fails").set_defaults(handler=lambda args: 1)
    assert run(parser, ["fail"]) == 1


@pytest.mark.parametrize(
    ("argv", "warehouse", "quiet", "verbose"),
    [
        (["go"], DEFAULT_WAREHOUSE, False, False),
        (["--warehouse", "a.duckdb", "-q", "go"], "a.duckdb", True, False),
        (["go", "--warehouse", "b.duckdb", "--verbose"], "b.duckdb", False, True),
        (["-w", "a.duckdb", "-v", "go", "-w", "b.duckdb"], "b.duckdb", False, True),  # after overrides before
        (["-w", "a.duckdb", "-q", "go", "-j", "2"], "a.duckdb", True, False),  # …only when given after
    ],
)
def test_global_options_before_and_after_the_subcommand(argv, warehouse, quiet, verbose):
    parser, seen = build()
    assert run(parser, argv) == 0
    (args,) = seen
    assert (args.warehouse, args.quiet, args.verbose) == (warehouse, quiet, verbose)
    assert is_quiet() is quiet  # run set up logging from them


def test_jobs_is_a_positive_whole_number_with_its_default(capsys):
    parser, seen = build()
    run(parser, ["go"])
    run(parser, ["go", "--jobs", "3"])
    run(parser, ["go", "-j", "1"])
    assert [args.jobs for args in seen] == [None, 3, 1]
    for bad, message in (("0", "must be at least 1, not 0"), ("-2", "must be at least 1, not -2"),
                         ("two", "not a whole number: 'two'")):
        with pytest.raises(SystemExit) as exit_:
            run(parser, ["go", "--jobs", bad])
        assert exit_.value.code == 2
        assert capsys.readouterr().err.endswith(f"tool go: error: argument --jobs/-j: {message}\n")
    assert len(seen) == 3  # a refused option runs nothing


def test_jobs_default_and_help_say_what_runs_in_parallel(capsys):
    parser = argparse.ArgumentParser(prog="p")
    jobs_option(parser, "statements", default=4)
    assert parser.parse_args([]).jobs == 4
    parser.print_help()
    assert "statements in parallel (default: 4)" in " ".join(capsys.readouterr().out.split())


def test_version_and_the_exit_code_table(capsys):
    parser, _ = build()
    with pytest.raises(SystemExit) as exit_:
        run(parser, ["--version"])
    # every command answers with the one distribution's version, whatever its prog name
    assert exit_.value.code == 0 and capsys.readouterr().out == f"pinoloft {pinoloft_version()}\n"
    assert pinoloft_version() == importlib.metadata.version("pinoloft")
    assert list(EXIT_CODES) == [0, 1, 2, 3, 4, 130]
    lines = EXIT_CODES_HELP.splitlines()
    assert lines[0] == "exit codes:" and [line.split()[0] for line in lines[1:]] == ["0", "1", "2", "3", "4", "130"]


def test_http_clients_log_their_requests_only_when_verbose():
    import logging

    from pinoloft_base.console import setup_logging

    setup_logging()
    assert logging.getLogger("httpx2").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("finetune.serve").getEffectiveLevel() == logging.INFO
    setup_logging(verbose=True)
    assert logging.getLogger("httpx2").getEffectiveLevel() == logging.DEBUG
    setup_logging(quiet=True)
    assert logging.getLogger("finetune.serve").getEffectiveLevel() == logging.WARNING


def test_a_reader_that_stops_early_is_not_an_error(tmp_path):
    """`pinoloft identify … | head -1`: the closed pipe ends the command quietly, exit 0."""
    import subprocess
    import sys

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"original": "SELECT 1 FROM t WHERE c > 1", "mutated": "SELECT 1 FROM t WHERE c >= 1"}\n' * 3000)
    done = subprocess.run(f"{sys.executable} -m pinoloft identify --input {pairs} | head -c 10; "
                          "echo \" exit ${PIPESTATUS[0]}\"", shell=True, executable="/bin/bash", capture_output=True,
                          text=True, timeout=120)
    assert done.stdout == '{"original exit 0\n'
    assert "Broken pipe" not in done.stderr and "Traceback" not in done.stderr
