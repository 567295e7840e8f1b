"""`pinoloft`: the command-line front door. Each subcommand calls a package's library; the same options
and exit codes hold for all of them (and for `python -m <package>`, which the subcommands share).

Global options come before the subcommand (after it works too).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from ingest.cli import DEFAULT_DATASETS_DIR
from pinoloft_base.cli import command_parser, jobs_option, run, subcommand
from pinoloft_base.errors import EXIT_FINDINGS, EXIT_OK

from . import __version__

HISTORY_FILE = "~/.pinoloft_history"

# What `pinoloft --help` lists first: the pipeline's stages in the order they run.
STAGES = "ingest -> check -> transform -> validate -> export -> train -> serve -> evaluate"


def cmd_sql(args: argparse.Namespace) -> int:
    from .sql import open_read_only, render, repl, run_query

    con = open_read_only(args.warehouse)
    try:
        if args.query is not None:
            sys.stdout.write(render(run_query(con, args.query), args.format))
            return EXIT_OK
        if not sys.stdin.isatty():  # `pinoloft sql < query.sql`, or a pipe
            sys.stdout.write(render(run_query(con, sys.stdin.read()), args.format))
            return EXIT_OK
        return EXIT_FINDINGS if _interactive(con, args.format, repl) else EXIT_OK
    finally:
        con.close()


def _interactive(con, format: str, repl) -> int:
    import readline  # line editing and history at the prompt (imported only where a person types)

    history = Path(os.path.expanduser(HISTORY_FILE))
    try:
        readline.read_history_file(history)
    except OSError:
        pass
    print(f"pinoloft {__version__}: SQL on the warehouse, read-only. End a query with ';'; .quit to leave.",
          file=sys.stderr)

    def write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    try:
        return repl(con, format, input, write)
    finally:
        try:
            readline.set_history_length(1000)
            readline.write_history_file(history)
        except OSError:
            pass


def cmd_transform(args: argparse.Namespace) -> int:
    """Verdicts for new pairs, the dataset configs, the top-ups, then dbt: what `make transform` runs."""
    from ingest.datasets import load_datasets
    from ingest.synthesize import synthesize
    from ingest.verdicts import check_pairs

    from .dbt import build

    began = time.perf_counter()
    if not args.skip_check:
        print(check_pairs(args.warehouse, jobs=args.jobs, quiet=args.quiet).describe(), file=sys.stderr)
    names = load_datasets(args.warehouse, args.datasets_dir)
    print(f"loaded {len(names)} dataset config(s) from {args.datasets_dir}: {', '.join(names) or '-'}",
          file=sys.stderr)
    print(synthesize(args.warehouse, quiet=args.quiet).describe(), file=sys.stderr)
    print(build(args.warehouse), file=sys.stderr)
    print(f"transform done in {time.perf_counter() - began:.1f}s", file=sys.stderr)
    return EXIT_OK


def cmd_docs(args: argparse.Namespace) -> int:
    from .dbt import docs

    page = docs(args.warehouse)
    print(f"docs: {page.resolve()} (one self-contained page: open it in a browser)")
    return EXIT_OK


def cmd_dbt_build(args: argparse.Namespace) -> int:
    from .dbt import build

    print(build(args.warehouse, select=args.select), file=sys.stderr)
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    """Run the pairs in scope on the target, then rebuild dbt to join the new logs, then write the report:
    what `make validate` runs. A run that stops early (its own exit code) leaves dbt and the report alone."""
    from validation.cli import cmd_run
    from validation.report import write_report

    from .dbt import build

    code = cmd_run(args)
    if code != EXIT_OK:
        return code
    print(build(args.warehouse), file=sys.stderr)
    print(f"validation report: {write_report(args.warehouse, args.target)}", file=sys.stderr)
    return EXIT_OK


# What Ctrl-C leaves behind, in the words of the front door's commands.
INTERRUPTED_INGEST = "interrupted: nothing was committed, the warehouse is as it was before this run"
INTERRUPTED_VALIDATE = "interrupted: the pairs run so far are logged; rerun `pinoloft validate` to continue"


def build_parser() -> argparse.ArgumentParser:
    from exporters import cli as exporters_cli
    from finetune import cli as finetune_cli
    from ingest import cli as ingest_cli
    from mutations import cli as mutations_cli
    from simulator import cli as simulator_cli
    from validation import cli as validation_cli

    parser, commands = command_parser(
        "pinoloft",
        f"PINOLO fuzzer output -> validated, balanced fine-tuning data. Stages: {STAGES}.")

    ingest_cli.add_load_command(commands, "ingest", with_pairs=True).set_defaults(
        interrupted_message=INTERRUPTED_INGEST)
    ingest_cli.add_check_command(commands, "check")
    ingest_cli.add_datasets_command(commands, "datasets")

    transform = subcommand(
        commands, "transform", help="verdicts, dataset configs, top-ups, then dbt build (what make transform runs)",
        description="Judge pairs not judged yet, load the dataset configs, derive synthetic top-ups, then build "
        "the dbt models (staging -> intermediate -> marts) with all their tests.")
    transform.add_argument("--datasets-dir", default=DEFAULT_DATASETS_DIR, metavar="DIR",
                           help=f"folder of dataset YAML files (default: {DEFAULT_DATASETS_DIR})")
    transform.add_argument("--skip-check", action="store_true", help="do not judge new pairs first")
    jobs_option(transform, "verdict worker processes")
    transform.set_defaults(handler=cmd_transform)

    dbt_build = subcommand(
        commands, "dbt-build", help="dbt build alone (after a validation run, say)",
        description="Build the dbt models with their tests, without the verdict, dataset and top-up steps.")
    dbt_build.add_argument("--select", "-s", metavar="SELECTOR", help="dbt node selection (default: everything)")
    dbt_build.set_defaults(handler=cmd_dbt_build)

    validate = validation_cli.add_run_command(commands, "validate")
    validate.description = ((validate.description or "") + " Then dbt is built again to join the new logs, and "
                            "the target's report.md is written.").strip()
    validate.set_defaults(handler=cmd_validate, interrupted_message=INTERRUPTED_VALIDATE)
    validation_cli.add_report_command(commands, "validation-report")
    validation_cli.add_server_command(commands, "server")
    validation_cli.add_guard_command(commands, "guard")

    exporters_cli.add_export_command(commands, "export")
    exporters_cli.add_check_command(commands, "check-export")

    finetune_cli.add_train_command(commands, "train").set_defaults(interrupted_message=finetune_cli.INTERRUPTED)
    finetune_cli.add_serve_command(commands, "serve")
    finetune_cli.add_evaluate_command(commands, "evaluate")
    finetune_cli.add_jobs_command(commands, "jobs").set_defaults(interrupted_message=finetune_cli.INTERRUPTED)
    finetune_cli.add_experiments_command(commands, "experiments").set_defaults(interrupted_message=finetune_cli.INTERRUPTED)

    sql = subcommand(
        commands, "sql", help="read-only SQL on the warehouse (a prompt when no query is given)",
        description="Run QUERY on the warehouse, opened read-only, and print the result. Without QUERY: the "
        "query from standard input when it is not a terminal, else an interactive prompt (history, queries "
        "over several lines ending with ';').")
    sql.add_argument("query", nargs="?", help="the SQL (the last statement's result is printed)")
    sql.add_argument("--format", "-f", choices=["table", "csv", "json", "markdown"], default="table")
    sql.set_defaults(handler=cmd_sql)

    docs = subcommand(
        commands, "docs", help="the dbt docs as one static page that opens from disk",
        description="dbt docs generate --static: writes dbt_project/target/static_index.html and prints its path.")
    docs.set_defaults(handler=cmd_docs)

    mutations_cli.add_identify_command(commands, "identify")
    simulator_cli.add_generate_command(commands, "generate")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), argv)
