"""`python -m simulator generate` (and `pinoloft generate`): write a PINOLO output tree for demos and tests.

The library raises; the runner of the base floor turns errors into exit codes (the table is in `--help`):
bad arguments are a usage error (2).
"""

from __future__ import annotations

import argparse
import sys

from pinoloft_base.cli import EXIT_CODES_HELP, command_parser, jobs_option, run, subcommand
from pinoloft_base.errors import EXIT_OK

from .generator import generate

__all__ = ["add_generate_command", "build_parser", "cmd_generate", "main"]


def cmd_generate(args: argparse.Namespace) -> int:
    """Write the tree; print what was written to stderr."""
    summary = generate(
        args.root,
        dbms=tuple(name.strip() for name in args.dbms.split(",") if name.strip()),
        runs=args.runs, tasks=args.tasks, queries=args.queries, seed=args.seed, faults=args.faults,
        mix=args.mix, unstable_share=args.unstable_share, all_strategies=args.all_strategies,
        workers=args.jobs, quiet=args.quiet,
    )
    print(summary.describe(), file=sys.stderr)
    if summary.skipped_queries:
        print(f"generate: note: {summary.skipped_queries} queries skipped because the engine could not parse them",
              file=sys.stderr)
    return EXIT_OK


def add_generate_command(commands, name: str = "generate") -> argparse.ArgumentParser:
    """Add the `generate` subcommand to `commands` (an argparse subparsers object)."""
    parser = subcommand(
        commands, name,
        help="write a PINOLO output tree (task pools) for demos and tests",
        description="Write a PINOLO output tree under --root the way PINOLO, ckstable and sqlsim leave it: real "
        "queries and mutations, results drawn so the oracle fires; the same arguments give the same bytes. "
        "An earlier tree there is replaced.",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--root", required=True, help="output directory (PINOLO's outputPath when --runs 1)")
    parser.add_argument("--dbms", default="mysql", help="comma-separated pool names, e.g. mysql,mariadb")
    parser.add_argument("--runs", type=int, default=1, help="runs; >1 writes output1..outputN (QTRAN's layout)")
    parser.add_argument("--tasks", type=int, default=4, help="tasks per pool")
    parser.add_argument("--queries", type=int, default=100, help="queries per task (PINOLO's queriesNum)")
    parser.add_argument("--seed", type=int, default=1, help="pool seed; task seed = pool seed + task id")
    parser.add_argument("--faults", type=float, default=0.0, help="share of report files to damage (0..1)")
    parser.add_argument("--mix", default=None,
                        help="strategy weights NAME=W,... ('all' = uniform over the 18; default: QTRAN's counts)")
    parser.add_argument("--unstable-share", type=float, default=0.15, help="share of bugs ckstable calls unstable")
    parser.add_argument("--all-strategies", action="store_true",
                        help="also emit DISTINCT, bare UNION and literal LIKE/REGEXP so all 18 strategies can fire")
    jobs_option(parser, "worker processes writing tasks")
    parser.set_defaults(handler=cmd_generate)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser, commands = command_parser(
        "python -m simulator",
        "The PINOLO simulator: realistic PINOLO output trees for demos, tests and benches.")
    add_generate_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), argv, interrupted="interrupted: the tree under --root is incomplete; rerun to "
                                                 "write it again")
