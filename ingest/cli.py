"""`python -m ingest`: load PINOLO trees, judge their pairs, load dataset configs, derive top-up pairs.

The library raises; this module alone maps errors to exit codes: 0 ok, 1 a step failed (bad dataset
config, steps in the wrong order, a warehouse that cannot be opened), 2 usage errors, missing paths and
unknown dataset names, 130 interrupted (the run's transaction is rolled back: the warehouse is as before).
"""

from __future__ import annotations

import argparse
import logging
import re
import sys

from mutations.console import setup_logging

from .errors import IngestError, SourceError, UnknownDatasetError
from .schema import DEFAULT_WAREHOUSE

log = logging.getLogger("ingest")


def cmd_load(args: argparse.Namespace) -> int:
    from .loader import load

    cap = {} if args.max_file_size is None else {"max_file_bytes": args.max_file_size}
    report = load(args.root, args.warehouse, workers=args.workers, quiet=args.quiet, **cap)
    mode = "incremental" if report.incremental else "first load of this root"
    print(f"ingest run {report.ingest_run_id} ({mode}): {report.pools} pool(s), {report.tasks} task(s) under "
          f"{report.source_root} in {report.seconds:.1f}s", file=sys.stderr)
    print(report.reconciliation, file=sys.stderr)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from .verdicts import check_pairs

    report = check_pairs(args.warehouse, jobs=args.jobs, quiet=args.quiet)
    print(report.describe(), file=sys.stderr)
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from .datasets import load_datasets, require_dataset

    if args.require is not None:
        config = require_dataset(args.dir, args.require)
        if not args.quiet:
            print(f"dataset {config.name} is defined in {config.path}", file=sys.stderr)
        return 0
    names = load_datasets(args.warehouse, args.dir)
    print(f"loaded {len(names)} dataset config(s) from {args.dir}: {', '.join(names) or '-'}", file=sys.stderr)
    return 0


def cmd_synthesize(args: argparse.Namespace) -> int:
    from .synthesize import synthesize

    report = synthesize(args.warehouse, quiet=args.quiet)
    print(report.describe(), file=sys.stderr)
    return 0


_SIZE = re.compile(r"(\d+)\s*(|B|K|KiB|M|MiB|G|GiB)", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kib": 1024, "m": 1024 ** 2, "mib": 1024 ** 2, "g": 1024 ** 3,
               "gib": 1024 ** 3}


def _byte_size(text: str) -> int:
    """`--max-file-size`: a number of bytes, or with a binary unit (`512KiB`, `16MiB`, `1G`)."""
    match = _SIZE.fullmatch(text.strip())
    if match is None or int(match.group(1)) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive size such as 1048576, 512KiB or 16MiB, got {text!r}")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ingest",
        description="Load PINOLO output into the warehouse's raw schema (docs/warehouse.md), judge every pair "
        "with the mutation engine, load dataset configs and derive synthetic top-up pairs.",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars or info messages")
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logging")
    parser.add_argument("--warehouse", "-w", default=DEFAULT_WAREHOUSE,
                        help=f"DuckDB file (default: {DEFAULT_WAREHOUSE}; parent folders are created)")
    # The same options are accepted after the subcommand too (`python -m ingest load --warehouse W …`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bars or info messages")
    common.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help="debug logging")
    common.add_argument("--warehouse", "-w", default=argparse.SUPPRESS,
                        help=f"DuckDB file (default: {DEFAULT_WAREHOUSE})")
    commands = parser.add_subparsers(dest="command", required=True)

    load = commands.add_parser(
        "load", parents=[common], help="load a PINOLO tree into raw.* (incremental, one transaction)",
        description="Discovers every run, DBMS pool and task below ROOT (a set of runs output1..N, PINOLO's "
        "outputPath, one pool or one task) and loads bug reports, results, configs (without password), "
        "output.data.sql and task.log bug lines. Unusable files go to raw.ingest_quarantine with the reason. "
        "A second run reads only new or changed files and marks vanished ones. Ends with the reconciliation "
        "line: files seen = loaded + quarantined + skipped as unchanged.")
    load.add_argument("--root", required=True, help="PINOLO output: runs, an outputPath, a pool or a task")
    load.add_argument("--workers", "-j", type=int, default=None, help="worker processes (default: all cores)")
    load.add_argument("--max-file-size", type=_byte_size, default=None, metavar="SIZE",
                      help="larger files are quarantined unread (bytes, or 512KiB, 16MiB…; default: 16MiB)")
    load.set_defaults(handler=cmd_load)

    check = commands.add_parser(
        "check", parents=[common], help="judge every pair not judged yet (raw.mutation_verdicts)",
        description="Runs the mutation engine's check once per distinct (mutation, originalSql, mutatedSql) of "
        "raw.bug_reports (every folder, so raw and sqlsim forms) and raw.synthetic_pairs whose pair_hash has "
        "no verdict yet, on all cores, and stores verdicts with fingerprints.")
    check.add_argument("--jobs", "-j", type=int, default=None, help="worker processes (default: all cores)")
    check.set_defaults(handler=cmd_check)

    datasets = commands.add_parser(
        "datasets", parents=[common], help="load datasets/*.yml into raw.dataset_configs (replaces all rows)",
        description="Validates every datasets/*.yml (format: ingest/datasets.py) and replaces raw.dataset_configs "
        "with one row per dataset and strategy. A bad file is an error naming the file and the key; then "
        "nothing is loaded.")
    datasets.add_argument("--dir", default="datasets", help="folder of dataset YAML files (default: datasets)")
    datasets.add_argument("--require", metavar="NAME",
                          help="only check that NAME is a valid dataset there (exit 2 if not); the warehouse is not "
                          "opened")
    datasets.set_defaults(handler=cmd_datasets)

    synthesize = commands.add_parser(
        "synthesize", parents=[common], help="derive top-up pairs for datasets with top_up: true",
        description="For datasets with top_up: true, derives engine-made pairs for strategies whose real supply "
        "is below the quota, from other real originals, into raw.synthetic_pairs (needs `check` first).")
    synthesize.set_defaults(handler=cmd_synthesize)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(quiet=args.quiet, verbose=args.verbose)
    try:
        return args.handler(args)
    except (SourceError, UnknownDatasetError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except IngestError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing was committed, the warehouse is as it was before this run", file=sys.stderr)
        return 130
