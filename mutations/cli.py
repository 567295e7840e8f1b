"""`python -m mutations`: check pairs, apply strategies, list candidates, generate PINOLO output.

The library raises; this module alone turns errors into exit codes: 0 ok, 1 bad input lines or SQL,
2 usage errors and unreadable files.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from .batch import check_jsonl, count_lines
from .console import progress_bar, setup_logging
from .engine import Candidate, apply, candidates
from .errors import MutationsError
from .generator import add_generate_arguments, run_generate
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
    return 1 if summary.errors else 0


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
    return 0


def cmd_candidates(args: argparse.Namespace) -> int:
    sql = _read_sql(args)
    for candidate in candidates(sql, args.strategy):
        record = _candidate_record(candidate)
        record["text"] = sql[candidate.start : candidate.end]
        print(json.dumps(record, ensure_ascii=False))
    return 0


def cmd_pairs(args: argparse.Namespace) -> int:
    folders = tuple(name.strip() for name in args.folders.split(",") if name.strip())
    unknown = [name for name in folders if name not in REPORT_FOLDERS]
    if unknown:
        print(f"error: unknown folder(s) {', '.join(unknown)}; choose from {', '.join(REPORT_FOLDERS)}", file=sys.stderr)
        return 2
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
    return 1 if skipped and args.strict else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mutations",
        description="PINOLO's 18 mutation strategies: judge pairs, apply strategies, generate PINOLO output.",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars or info messages")
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser(
        "check",
        help="judge (original, mutated, strategy) pairs from JSONL",
        description="Each input line is a JSON object with strategy, original and mutated (other keys pass "
        "through). Each output line is the input plus conforms, is_upper and reason. A per-strategy summary "
        "goes to stderr; malformed lines are reported with their line number and skipped (exit code 1).",
    )
    check.add_argument("--input", "-i", required=True, help="pairs JSONL file, or - for stdin")
    check.add_argument("--output", "-o", help="verdicts JSONL file (default: stdout)")
    check.add_argument("--jobs", "-j", type=int, default=None, help="worker processes (default: all cores)")
    check.set_defaults(handler=cmd_check)

    apply_ = commands.add_parser("apply", help="apply one strategy to a query: one JSON line per candidate")
    apply_.add_argument("--strategy", "-s", required=True, choices=STRATEGIES, metavar="NAME",
                        help="one of: " + ", ".join(STRATEGIES))
    apply_.add_argument("--sql", required=True, help="the query, or - to read it from stdin")
    apply_.add_argument("--seed", type=int, default=None, help="seed of the RdM* strategies (default 0)")
    apply_.set_defaults(handler=cmd_apply)

    pairs = commands.add_parser(
        "pairs",
        help="extract the pairs of a PINOLO output tree as JSONL (input for check)",
        description="Walks ROOT for task-*/{bugs,maystable,unstable,sqlsim}/bug-*.json and writes one JSON line "
        "per bug with its provenance. Unusable files are listed on stderr with the reason.",
    )
    pairs.add_argument("--root", required=True, help="a PINOLO output tree: runs, task pools or a single task")
    pairs.add_argument("--folders", default="bugs,sqlsim", help="comma-separated report folders (default: bugs,sqlsim)")
    pairs.add_argument("--output", "-o", help="pairs JSONL file (default: stdout)")
    pairs.add_argument("--strict", action="store_true", help="exit with 1 when any file was skipped")
    pairs.set_defaults(handler=cmd_pairs)

    cands = commands.add_parser("candidates", help="list every mutation point of a query, all strategies")
    cands.add_argument("--sql", required=True, help="the query, or - to read it from stdin")
    cands.add_argument("--strategy", "-s", choices=STRATEGIES, metavar="NAME", default=None)
    cands.set_defaults(handler=cmd_candidates)

    generate = commands.add_parser("generate", help="write a PINOLO output tree (task pools) for testing")
    add_generate_arguments(generate)
    generate.set_defaults(handler=run_generate)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(quiet=args.quiet, verbose=args.verbose)
    try:
        return args.handler(args)
    except MutationsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
