"""`python -m validation`: run pairs on a real server, manage the throwaway MariaDB, write the report.

The library raises; the runner (`pinoloft_base.cli.run`) alone maps errors to the exit codes every pinoloft
command shares: 0 ok, 1 findings (`guard` refused the text, `server status` found no server), 2 usage or
input errors (an unknown target, a bad DSN, no warehouse, bad data SQL), 3 the warehouse is in use by another
process, 4 the database server failed, refused us or went away mid-run (rerun to continue), 130 interrupted
(committed work is kept; a rerun continues).

Credentials come from the environment only, never from argv (where `ps` shows them to every user for the whole
run): PINOLOFT_DSN is an administrator of another server, PINOLOFT_READER_DSN a SELECT-only account there.
Neither is ever printed or stored. `--dsn` and `--reader-dsn` are refused (exit 2).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

from pinoloft_base.cli import command_parser, jobs_option, run, subcommand
from pinoloft_base.errors import EXIT_FINDINGS, EXIT_OK
from pinoloft_base.warehouse import connect

DEFAULT_SERVER_DIR = "data/mariadb"
INTERRUPTED = "interrupted: committed work is kept; rerun to continue"


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
    from .run import RunSettings, validate
    from .scope import Scope
    from .server import ThrowawayServer
    from .targets import load_target

    load_target(args.target)  # an unknown target fails before any server starts
    connect(args.warehouse, read_only=True).close()  # no warehouse at the path: say so, never create one
    # DuckDB lets one process write the file: when another holds it, say so now, before a server is started
    # and pairs are run only to fail at the first write. (Closed again: workers are forked without DuckDB.)
    connect(args.warehouse).close()
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
    return EXIT_OK


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
            return EXIT_FINDINGS
        print(f"MariaDB {installed}; running (pid {state['pid']}) on 127.0.0.1:{state['port']} and {state['socket']}",
              file=sys.stderr)
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report

    path = write_report(args.warehouse, args.target, args.output)
    print(f"validation report: {path}", file=sys.stderr)
    return EXIT_OK


def cmd_guard(args: argparse.Namespace) -> int:
    from .guard import MAX_STATEMENT_CHARS, statement_refusal

    # One character past the limit is enough for the guard to refuse the text as too long: never read more.
    sql = sys.stdin.read(MAX_STATEMENT_CHARS + 1) if args.sql == "-" else args.sql
    reason = statement_refusal(sql)
    print("accepted: one SELECT/WITH statement" if reason is None else f"refused: {reason}")
    return EXIT_OK if reason is None else EXIT_FINDINGS


class _SecretInArgv(argparse.Action):
    """Refuses an option that would carry a password in argv: a usage error (exit 2) naming the environment
    variable to use instead. The value itself is never echoed."""

    def __init__(self, option_strings: list[str], dest: str, env_name: str, **kwargs) -> None:
        self.env_name = env_name
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        parser.error(f"{option_string} is not accepted: a DSN carries a password, which argv shows to every "
                     f"user (ps); set {self.env_name}=mysql://user:password@host:port in the environment instead")


def add_run_command(commands, name: str = "run") -> argparse.ArgumentParser:
    """`run`: execute the pairs in scope on a target and log them (the front door's `validate`)."""
    from .runner import DEFAULT_BYTE_CAP

    run_parser = subcommand(
        commands, name, help="execute the pairs in scope and log them (resumable)",
        description="Execute the pairs in scope on a real server (a throwaway MariaDB by default) and log "
        "statuses, result digests and PINOLO's oracle to raw.validation_runs. A rerun continues where the last "
        "one stopped.",
        epilog="Another server instead of the throwaway MariaDB: set PINOLOFT_DSN=mysql://admin:password@host:port "
        "(or ?unix_socket=/path) in the environment, and PINOLOFT_READER_DSN for an existing SELECT-only account. "
        "A DSN is never accepted as an argument: argv is visible to every user (ps).")
    run_parser.add_argument("--target", default="mariadb",
                            help="target name in validation/targets.yml (default mariadb)")
    scope = run_parser.add_mutually_exclusive_group()
    scope.add_argument("--dataset", help="only this dataset's candidates (default: every dataset's)")
    scope.add_argument("--all", action="store_true", help="every deduplicated pair in marts.pairs")
    run_parser.add_argument("--repeats", type=int, default=3,
                            help="executions per pair, to flag unstable ones (default 3)")
    run_parser.add_argument("--timeout", type=float, default=10.0,
                            help="per-statement time limit in seconds (default 10)")
    run_parser.add_argument("--row-cap", type=int, default=100_000,
                            help="most rows a result may have (default 100000)")
    run_parser.add_argument("--byte-cap", type=int, default=DEFAULT_BYTE_CAP,
                            help=f"most bytes of row data a result may bring (default {DEFAULT_BYTE_CAP})")
    jobs_option(run_parser, "worker connections", default=1)
    run_parser.add_argument("--fresh", action="store_true", help="run everything again in a new run")
    # Another server comes from the environment only (module docstring); these two exist to say so.
    run_parser.add_argument("--dsn", action=_SecretInArgv, env_name="PINOLOFT_DSN", help=argparse.SUPPRESS)
    run_parser.add_argument("--reader-dsn", action=_SecretInArgv, env_name="PINOLOFT_READER_DSN",
                            help=argparse.SUPPRESS)
    run_parser.add_argument("--server-dir", default=DEFAULT_SERVER_DIR, help="the throwaway server's folder")
    run_parser.add_argument("--keep-server", action="store_true",
                            help="leave the throwaway server running afterwards")
    run_parser.set_defaults(handler=cmd_run, interrupted_message=INTERRUPTED)
    return run_parser


def add_server_command(commands, name: str = "server") -> argparse.ArgumentParser:
    """`server start|stop|status`: the throwaway MariaDB (`status` exits 1 when it is not running)."""
    server = subcommand(commands, name,
                                 help="start, stop or show the throwaway MariaDB (status: exit 1 when not running)")
    server.add_argument("action", choices=["start", "stop", "status"])
    server.add_argument("--server-dir", default=DEFAULT_SERVER_DIR, help="the throwaway server's folder")
    server.set_defaults(handler=cmd_server)
    return server


def add_report_command(commands, name: str = "report") -> argparse.ArgumentParser:
    """`report`: report.md for a target from the validation marts."""
    report = subcommand(commands, name,
                                 help="write report.md from the validation marts (run dbt first)")
    report.add_argument("--target", default="mariadb", help="target name in validation/targets.yml (default mariadb)")
    report.add_argument("--output", type=Path, help="default data/validation/<target>/report.md")
    report.set_defaults(handler=cmd_report)
    return report


def add_guard_command(commands, name: str = "guard") -> argparse.ArgumentParser:
    """`guard SQL`: whether the SELECT-only guard would let a text run (exit 1 when refused: a finding)."""
    guard = subcommand(commands, name,
                                help="say whether a SQL text would be executed (exit 1 when refused)")
    guard.add_argument("sql", help="the SQL text, or - for standard input")
    guard.set_defaults(handler=cmd_guard)
    return guard


def build_parser() -> argparse.ArgumentParser:
    parser, commands = command_parser(
        "python -m validation",
        "Execute PINOLO pairs on a real server (a throwaway MariaDB by default), log statuses, result "
        "digests and PINOLO's oracle to raw.validation_runs, and report executability.")
    add_run_command(commands)
    add_server_command(commands)
    add_report_command(commands)
    add_guard_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), argv, interrupted=INTERRUPTED)
