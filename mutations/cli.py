"""`python -m mutations`: judge pairs, identify their strategies, apply strategies, list candidates, extract the
pairs of a PINOLO tree.

The library raises; the base floor's runner turns errors into exit codes (the table is in `--help`): 1 for
findings (malformed input lines of `check` and `identify`, skipped files of `pairs --strict`), 2 for usage and input
errors (a bad option, SQL that is not a SELECT we can read, an unknown strategy, an unreadable file).
(Writing PINOLO trees for tests is the simulator's: `python -m simulator generate`.)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from pinoloft_base.cli import command_parser, jobs_option, run, subcommand
from pinoloft_base.console import progress_bar
from pinoloft_base.errors import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE

from .batch import check_jsonl, count_lines
from .engine import Candidate, apply, candidates
from .identify import identify_jsonl
from .strategies import STRATEGIES
from .tree import REPORT_FOLDERS, SkippedFile, iter_pairs

log = logging.getLogger("mutations")


def _candidate_record(candidate: Candidate) -> dict[str, object]:
    return {
        "strategy": candidate.strategy,
        "is_upper": candidate.is_upper,
        "flag": candidate.flag,
        "node": candidate.node,
        "start": candidate.start,
        "end": candidate.end,
    }


def _read_sql(args: argparse.Namespace) -> str:
    if args.sql == "-":
        return sys.stdin.read()
    return args.sql


def cmd_check(args: argparse.Namespace) -> int:
    total = None if args.input == "-" else count_lines(args.input)
    source = sys.stdin.buffer if args.input == "-" else open(args.input, "rb")
    sink = sys.stdout if args.output is None else open(args.output, "w", encoding="utf-8")
    try:
        summary = check_jsonl(source, sink, source_name=args.input, jobs=args.jobs, total_lines=total)
    finally:
        if source is not sys.stdin.buffer:
            source.close()
        if sink is not sys.stdout:
            sink.close()
    for error in summary.errors:
        print(f"{args.input}:{error.line}: {error.message}", file=sys.stderr)
    print(summary.table(), file=sys.stderr)
    return EXIT_FINDINGS if summary.errors else EXIT_OK


def cmd_identify(args: argparse.Namespace) -> int:
    source = sys.stdin.buffer if args.input == "-" else open(args.input, "rb")
    sink = sys.stdout if args.output is None else open(args.output, "w", encoding="utf-8")
    try:
        summary = identify_jsonl(source, sink, source_name=args.input)
    finally:
        if source is not sys.stdin.buffer:
            source.close()
        if sink is not sys.stdout:
            sink.close()
    for error in summary.errors or ():
        print(f"{args.input}:{error.line}: {error.message}", file=sys.stderr)
    print(summary.describe(), file=sys.stderr)
    return EXIT_FINDINGS if summary.errors else EXIT_OK


def cmd_apply(args: argparse.Namespace) -> int:
    sql = _read_sql(args)
    for mutation in apply(sql, args.strategy, seed=args.seed):
        record = {
            "strategy": mutation.strategy,
            "is_upper": mutation.is_upper,
            "node": mutation.node,
            "start": mutation.start,
            "end": mutation.end,
            "replacement": mutation.replacement,
            "mutated": mutation.sql,
        }
        print(json.dumps(record, ensure_ascii=False))
    return EXIT_OK


def cmd_candidates(args: argparse.Namespace) -> int:
    sql = _read_sql(args)
    for candidate in candidates(sql, args.strategy):
        record = _candidate_record(candidate)
        record["text"] = sql[candidate.start : candidate.end]
        print(json.dumps(record, ensure_ascii=False))
    return EXIT_OK


def cmd_pairs(args: argparse.Namespace) -> int:
    folders = tuple(name.strip() for name in args.folders.split(",") if name.strip())
    unknown = [name for name in folders if name not in REPORT_FOLDERS]
    if unknown:
        print(f"error: unknown folder(s) {', '.join(unknown)}; choose from {', '.join(REPORT_FOLDERS)}", file=sys.stderr)
        return EXIT_USAGE
    sink = sys.stdout if args.output is None else open(args.output, "w", encoding="utf-8")
    written = skipped = 0
    bar = progress_bar(desc="pairs", unit="file")
    try:
        for item in iter_pairs(args.root, folders):
            bar.update(1)
            if isinstance(item, SkippedFile):
                skipped += 1
                bar.write(f"{os.path.join(args.root, item.path)}: skipped: {item.reason}", file=sys.stderr)
            else:
                written += 1
                sink.write(json.dumps(item.as_dict(), ensure_ascii=False) + "\n")
    finally:
        bar.close()
        if sink is not sys.stdout:
            sink.close()
    print(f"bug files seen: {written + skipped} = {written} pairs written + {skipped} skipped", file=sys.stderr)
    return EXIT_FINDINGS if skipped and args.strict else EXIT_OK


def add_check_command(commands, name: str = "check") -> argparse.ArgumentParser:
    check = subcommand(
        commands, name,
        help="judge (original, mutated, strategy) pairs from JSONL",
        description="Each input line is a JSON object with strategy, original and mutated (other keys pass "
        "through). Each output line is the input plus conforms, is_upper and reason. A per-strategy summary "
        "goes to stderr; malformed lines are reported with their line number and skipped (exit code 1).",
    )
    check.add_argument("--input", "-i", required=True, help="pairs JSONL file, or - for stdin")
    check.add_argument("--output", "-o", help="verdicts JSONL file (default: stdout)")
    jobs_option(check, "worker processes judging pairs")
    check.set_defaults(handler=cmd_check)
    return check


def add_identify_command(commands, name: str = "identify") -> argparse.ArgumentParser:
    identify_ = subcommand(
        commands, name,
        help="say which strategies relate each (original, mutated) pair of a JSONL file",
        description="Each input line is a JSON object with original and mutated (other keys pass through). "
        "Each output line is the input plus identified: the list of {strategy, is_upper, reversed} for every "
        "strategy that turns original into mutated (reversed false) or mutated into original (reversed "
        "true); [] when none does. Malformed lines are reported with their line number and skipped "
        "(exit code 1).",
    )
    identify_.add_argument("--input", "-i", required=True, help="pairs JSONL file, or - for stdin")
    identify_.add_argument("--output", "-o", help="output JSONL file (default: stdout)")
    identify_.set_defaults(handler=cmd_identify)
    return identify_


def add_apply_command(commands, name: str = "apply") -> argparse.ArgumentParser:
    apply_ = subcommand(commands, name,
                                 help="apply one strategy to a query: one JSON line per candidate")
    apply_.add_argument("--strategy", "-s", required=True, choices=STRATEGIES, metavar="NAME",
                        help="one of: " + ", ".join(STRATEGIES))
    apply_.add_argument("--sql", required=True, help="the query, or - to read it from stdin")
    apply_.add_argument("--seed", type=int, default=None, help="seed of the RdM* strategies (default 0)")
    apply_.set_defaults(handler=cmd_apply)
    return apply_


def add_pairs_command(commands, name: str = "pairs") -> argparse.ArgumentParser:
    pairs = subcommand(
        commands, name,
        help="extract the pairs of a PINOLO output tree as JSONL (input for check)",
        description="Walks ROOT for task-*/{bugs,maystable,unstable,sqlsim}/bug-*.json and writes one JSON line "
        "per bug with its provenance. Unusable files are listed on stderr with the reason.",
    )
    pairs.add_argument("--root", required=True, help="a PINOLO output tree: runs, task pools or a single task")
    pairs.add_argument("--folders", default="bugs,sqlsim", help="comma-separated report folders (default: bugs,sqlsim)")
    pairs.add_argument("--output", "-o", help="pairs JSONL file (default: stdout)")
    pairs.add_argument("--strict", action="store_true", help="exit with 1 when any file was skipped")
    pairs.set_defaults(handler=cmd_pairs)
    return pairs


def add_candidates_command(commands, name: str = "candidates") -> argparse.ArgumentParser:
    cands = subcommand(commands, name,
                                help="list every mutation point of a query, all strategies")
    cands.add_argument("--sql", required=True, help="the query, or - to read it from stdin")
    cands.add_argument("--strategy", "-s", choices=STRATEGIES, metavar="NAME", default=None)
    cands.set_defaults(handler=cmd_candidates)
    return cands


def build_parser() -> argparse.ArgumentParser:
    parser, commands = command_parser(
        "python -m mutations",
        "PINOLO's 18 mutation strategies: judge pairs, identify strategies, apply strategies, list candidates, "
        "read trees.")
    add_check_command(commands)
    add_identify_command(commands)
    add_apply_command(commands)
    add_pairs_command(commands)
    add_candidates_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), argv)
