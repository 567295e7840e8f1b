"""`pinoloft`: the command-line front door.

Global options come before the subcommand. Exit codes (the same for every subcommand):
  0    ok
  1    findings: what ran found something wrong (a failed query in the interactive prompt, say)
  2    usage or input errors: bad options, a query DuckDB refuses, no warehouse at the path
  3    the warehouse is in use by another process (a writing stage): wait for it, then rerun
  130  interrupted
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mutations.console import setup_logging

from . import __version__

DEFAULT_WAREHOUSE = "data/warehouse.duckdb"
HISTORY_FILE = "~/.pinoloft_history"

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_WAREHOUSE_BUSY, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pinoloft", description="PINOLO fuzzer output -> validated, balanced fine-tuning data.",
        epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", "-w", default=DEFAULT_WAREHOUSE,
                        help=f"the DuckDB warehouse (default {DEFAULT_WAREHOUSE})")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars or informational logs")
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logs")
    parser.add_argument("--version", action="version", version=f"pinoloft {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sql = commands.add_parser(
        "sql", help="read-only SQL on the warehouse (a prompt when no query is given)",
        description="Run QUERY on the warehouse, opened read-only, and print the result. Without QUERY: the "
        "query from standard input when it is not a terminal, else an interactive prompt (history, queries "
        "over several lines ending with ';').")
    sql.add_argument("query", nargs="?", help="the SQL (the last statement's result is printed)")
    sql.add_argument("--format", "-f", choices=["table", "csv", "json", "markdown"], default="table")
    sql.set_defaults(handler=cmd_sql)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .sql import SqlError, WarehouseUnavailable

    args = build_parser().parse_args(argv)
    setup_logging(quiet=args.quiet, verbose=args.verbose)
    try:
        return args.handler(args)
    except SqlError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except WarehouseUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_WAREHOUSE_BUSY if "in use by another process" in str(error) else EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
