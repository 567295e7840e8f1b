"""`python -m validation`: run pairs on a real server, manage the throwaway MariaDB, write the report.

The library raises; this module alone maps errors to exit codes: 0 ok, 1 a step failed (server, target,
warehouse or data SQL), 2 usage errors, 3 the server went away mid-run (rerun to continue), 130
interrupted (committed work is kept; a rerun continues).

Credentials come from the environment only, never from argv (where `ps` shows them to every user for the whole
run): PINOLOFT_DSN is an administrator of another server, PINOLOFT_READER_DSN a SELECT-only account there.
Neither is ever printed or stored. `--dsn` and `--reader-dsn` are refused (exit 2).
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from pathlib import Path

from mutations.console import setup_logging

from .errors import ServerLost, ValidationError

log = logging.getLogger("validation")

DEFAULT_WAREHOUSE = "data/warehouse.duckdb"
DEFAULT_SERVER_DIR = "data/mariadb"


def _external_endpoints(args: argparse.Namespace):
    """(reader, admin, reader_host) for a server given by DSN. Without a reader DSN, the admin creates the
    SELECT-only account `pinoloft_reader`@'%' with a fresh random password for this run; the loader account
    `pinoloft_loader`@'%' (CREATE and INSERT on `pinolo_…` only) is made the same way by `DatabaseLoader`
    when `validate` is given no loader."""
    from .server import ensure_reader, parse_dsn

    admin_dsn = os.environ.get("PINOLOFT_DSN")
    reader_dsn = os.environ.get("PINOLOFT_READER_DSN")
    admin = parse_dsn(admin_dsn) if admin_dsn else None
    if reader_dsn:
        reader = parse_dsn(reader_dsn)
        return reader, admin, "%"
    reader = ensure_reader(admin, "%", secrets.token_urlsafe(24))
    return reader, admin, "%"


def cmd_run(args: argparse.Namespace) -> int:
    from .errors import WarehouseError
    from .run import RunSettings, validate
    from .scope import Scope
    from .server import ThrowawayServer
    from .targets import load_target
    from .warehouse import open_warehouse

    load_target(args.target)  # an unknown target fails before any server starts
    if not Path(args.warehouse).exists():
        raise WarehouseError(f"no warehouse at {args.warehouse}: run `make ingest transform` first")
    # DuckDB lets one process write the file: when another holds it, say so now, before a server is started
    # and pairs are run only to fail at the first write. (Closed again: workers are forked without DuckDB.)
    open_warehouse(args.warehouse).close()
    settings = RunSettings(target=args.target, repeats=args.repeats, timeout_s=args.timeout, row_cap=args.row_cap,
                           jobs=args.jobs, fresh=args.fresh, byte_cap=args.byte_cap)
    scope = Scope(dataset=args.dataset, all_pairs=args.all)
    if os.environ.get("PINOLOFT_DSN") or os.environ.get("PINOLOFT_READER_DSN"):
        reader, admin, reader_host = _external_endpoints(args)
        report = validate(args.warehouse, scope, settings, reader, admin, reader_host=reader_host, quiet=args.quiet)
    else:
        server = ThrowawayServer(args.server_dir)
        with server.running_here(keep=args.keep_server):
            report = validate(args.warehouse, scope, settings, server.reader(), server.admin(),
                              loader=server.loader(), quiet=args.quiet)
    print(report.describe(), file=sys.stderr)
    return 0


def cmd_server(args: argparse.Namespace) -> int:
    from .server import ThrowawayServer, mariadb_binaries

    server = ThrowawayServer(args.server_dir)
    if args.action == "start":
        state = server.start()
        print(f"MariaDB running (pid {state['pid']}) on 127.0.0.1:{state['port']} and {state['socket']}", file=sys.stderr)
    elif args.action == "stop":
        print("stopped" if server.stop() else "not running", file=sys.stderr)
    else:
        state = server.running()
        binaries = mariadb_binaries()
        installed = f"installed ({binaries[0]})" if binaries else "not installed (run `make setup`)"
        if state is None:
            print(f"MariaDB {installed}; not running in {server.root}", file=sys.stderr)
            return 1
        print(f"MariaDB {installed}; running (pid {state['pid']}) on 127.0.0.1:{state['port']} and {state['socket']}",
              file=sys.stderr)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report

    path = write_report(args.warehouse, args.target, args.output)
    print(f"validation report: {path}", file=sys.stderr)
    return 0


def cmd_guard(args: argparse.Namespace) -> int:
    from .guard import MAX_STATEMENT_CHARS, statement_refusal

    # One character past the limit is enough for the guard to refuse the text as too long: never read more.
    sql = sys.stdin.read(MAX_STATEMENT_CHARS + 1) if args.sql == "-" else args.sql
    reason = statement_refusal(sql)
    print("accepted: one SELECT/WITH statement" if reason is None else f"refused: {reason}")
    return 0 if reason is None else 1


class _SecretInArgv(argparse.Action):
    """Refuses an option that would carry a password in argv: a usage error (exit 2) naming the environment
    variable to use instead. The value itself is never echoed."""

    def __init__(self, option_strings: list[str], dest: str, env_name: str, **kwargs) -> None:
        self.env_name = env_name
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        parser.error(f"{option_string} is not accepted: a DSN carries a password, which argv shows to every "
                     f"user (ps); set {self.env_name}=mysql://user:password@host:port in the environment instead")


def build_parser() -> argparse.ArgumentParser:
    from .runner import DEFAULT_BYTE_CAP

    parser = argparse.ArgumentParser(
        prog="python -m validation",
        description="Execute PINOLO pairs on a real server (a throwaway MariaDB by default), log statuses, result "
        "digests and PINOLO's oracle to raw.validation_runs, and report executability.",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars or informational logs")
    parser.add_argument("--verbose", action="store_true", help="debug logs")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "run", help="execute the pairs in scope and log them (resumable)",
        epilog="Another server instead of the throwaway MariaDB: set PINOLOFT_DSN=mysql://admin:password@host:port "
        "(or ?unix_socket=/path) in the environment, and PINOLOFT_READER_DSN for an existing SELECT-only account. "
        "A DSN is never accepted as an argument: argv is visible to every user (ps).")
    run.add_argument("--warehouse", default=DEFAULT_WAREHOUSE)
    run.add_argument("--target", default="mariadb", help="target name in validation/targets.yml (default mariadb)")
    scope = run.add_mutually_exclusive_group()
    scope.add_argument("--dataset", help="only this dataset's candidates (default: every dataset's)")
    scope.add_argument("--all", action="store_true", help="every deduplicated pair in marts.pairs")
    run.add_argument("--repeats", type=int, default=3, help="executions per pair, to flag unstable ones (default 3)")
    run.add_argument("--timeout", type=float, default=10.0, help="per-statement time limit in seconds (default 10)")
    run.add_argument("--row-cap", type=int, default=100_000, help="most rows a result may have (default 100000)")
    run.add_argument("--byte-cap", type=int, default=DEFAULT_BYTE_CAP,
                     help=f"most bytes of row data a result may bring (default {DEFAULT_BYTE_CAP})")
    run.add_argument("--jobs", type=int, default=1, help="worker connections (default 1)")
    run.add_argument("--fresh", action="store_true", help="run everything again in a new run")
    # Another server comes from the environment only (module docstring); these two exist to say so.
    run.add_argument("--dsn", action=_SecretInArgv, env_name="PINOLOFT_DSN", help=argparse.SUPPRESS)
    run.add_argument("--reader-dsn", action=_SecretInArgv, env_name="PINOLOFT_READER_DSN", help=argparse.SUPPRESS)
    run.add_argument("--server-dir", default=DEFAULT_SERVER_DIR, help="the throwaway server's folder")
    run.add_argument("--keep-server", action="store_true", help="leave the throwaway server running afterwards")
    run.set_defaults(handler=cmd_run)

    server = commands.add_parser("server", help="start, stop or show the throwaway MariaDB")
    server.add_argument("action", choices=["start", "stop", "status"])
    server.add_argument("--server-dir", default=DEFAULT_SERVER_DIR)
    server.set_defaults(handler=cmd_server)

    report = commands.add_parser("report", help="write report.md from the validation marts (run dbt first)")
    report.add_argument("--warehouse", default=DEFAULT_WAREHOUSE)
    report.add_argument("--target", default="mariadb")
    report.add_argument("--output", type=Path, help="default data/validation/<target>/report.md")
    report.set_defaults(handler=cmd_report)

    guard = commands.add_parser("guard", help="say whether a SQL text would be executed (exit 1 when refused)")
    guard.add_argument("sql", help="the SQL text, or - for standard input")
    guard.set_defaults(handler=cmd_guard)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(quiet=args.quiet, verbose=args.verbose)
    try:
        return args.handler(args)
    except ServerLost as error:
        log.error("%s", error)
        return 3
    except ValidationError as error:
        log.error("%s", error)
        return 1
    except KeyboardInterrupt:
        log.error("interrupted: committed work is kept; rerun to continue")
        return 130
