"""`python -m ingest` (and `pinoloft ingest|check|datasets`): load PINOLO trees, judge their pairs, load
dataset configs, derive top-up pairs.

The library raises; `pinoloft_base.cli.run` alone maps errors to the project's exit codes: 0 ok, 1 findings
(a load whose counts do not reconcile), 2 usage or input errors (a bad option, a missing path, a bad dataset
config or an unknown dataset name, steps in the wrong order, no warehouse), 3 the warehouse is in use by
another process, 130 interrupted (the load's transaction is rolled back: the warehouse is as before).

Each subcommand is added by an `add_<verb>_command` function, shared by this module's parser and the
`pinoloft` front door, which names them as it likes (`pinoloft ingest` is `load` here).
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from pinoloft_base.cli import command_parser, jobs_option, run, subcommand
from pinoloft_base.errors import EXIT_OK

from .errors import IngestError

__all__ = [
    "INTERRUPTED", "add_check_command", "add_datasets_command", "add_load_command", "add_pairs_command",
    "add_synthesize_command",
    "build_parser", "main",
]

# What Ctrl-C leaves: a load is one transaction (rolled back); the other steps write nothing half-way that a
# rerun does not finish.
INTERRUPTED = "interrupted: nothing was committed, the warehouse is as it was before this run"
DEFAULT_DATASETS_DIR = "datasets"


def cmd_load(args: argparse.Namespace) -> int:
    from .loader import load

    if args.root is None:  # only where `pairs` nests under the load command (`pinoloft ingest`)
        raise IngestError("ingest needs --root DIR (a PINOLO tree), or `ingest pairs --input FILE --source NAME` "
                          "for pairs from outside PINOLO")
    cap = {} if args.max_file_size is None else {"max_file_bytes": args.max_file_size}
    report = load(args.root, args.warehouse, jobs=args.jobs, quiet=args.quiet, **cap)
    mode = "incremental" if report.incremental else "first load of this root"
    print(f"ingest run {report.ingest_run_id} ({mode}): {report.pools} pool(s), {report.tasks} task(s) under "
          f"{report.source_root} in {report.seconds:.1f}s", file=sys.stderr)
    print(report.reconciliation, file=sys.stderr)
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from .verdicts import check_pairs

    report = check_pairs(args.warehouse, jobs=args.jobs, quiet=args.quiet)
    print(report.describe(), file=sys.stderr)
    return EXIT_OK


def cmd_datasets(args: argparse.Namespace) -> int:
    from .datasets import load_datasets, require_dataset

    if args.require is not None:
        config = require_dataset(args.dir, args.require)
        if not args.quiet:
            print(f"dataset {config.name} is defined in {config.path}", file=sys.stderr)
        return EXIT_OK
    names = load_datasets(args.warehouse, args.dir)
    print(f"loaded {len(names)} dataset config(s) from {args.dir}: {', '.join(names) or '-'}", file=sys.stderr)
    return EXIT_OK


def cmd_synthesize(args: argparse.Namespace) -> int:
    from .synthesize import synthesize

    report = synthesize(args.warehouse, quiet=args.quiet)
    print(report.describe(), file=sys.stderr)
    return EXIT_OK


def cmd_pairs(args: argparse.Namespace) -> int:
    from .external import load_external_pairs

    report = load_external_pairs(args.warehouse, args.input, args.source, default_dbms=args.dbms)
    print(report.describe(), file=sys.stderr)
    return EXIT_OK


_SIZE = re.compile(r"(\d+)\s*(|B|K|KiB|M|MiB|G|GiB)", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kib": 1024, "m": 1024 ** 2, "mib": 1024 ** 2, "g": 1024 ** 3,
               "gib": 1024 ** 3}


def _byte_size(text: str) -> int:
    """`--max-file-size`: a number of bytes, or with a binary unit (`512KiB`, `16MiB`, `1G`)."""
    match = _SIZE.fullmatch(text.strip())
    if match is None or int(match.group(1)) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive size such as 1048576, 512KiB or 16MiB, got {text!r}")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]


def add_load_command(commands: Any, name: str = "load", *, with_pairs: bool = False) -> argparse.ArgumentParser:
    """`load --root DIR [--jobs N] [--max-file-size SIZE]`: a PINOLO tree into raw.* (`pinoloft ingest`).

    `with_pairs`: `pairs` nests under it as an optional subcommand (`pinoloft ingest pairs …`), so `--root`
    is checked by the handler instead of argparse (which would demand it of `pairs` too)."""
    load = subcommand(
        commands, name, help="load a PINOLO tree into raw.* (incremental, one transaction)",
        description="Discovers every run, DBMS pool and task below ROOT (a set of runs output1..N, PINOLO's "
        "outputPath, one pool or one task) and loads bug reports, results, configs (without password), "
        "output.data.sql and task.log bug lines. Unusable files go to raw.ingest_quarantine with the reason. "
        "A second run reads only new or changed files and marks vanished ones. Ends with the reconciliation "
        "line: files seen = loaded + quarantined + skipped as unchanged.")
    load.add_argument("--root", required=not with_pairs, help="PINOLO output: runs, an outputPath, a pool or a task")
    jobs_option(load, "worker processes listing and reading files")
    load.add_argument("--max-file-size", type=_byte_size, default=None, metavar="SIZE",
                      help="larger files are quarantined unread (bytes, or 512KiB, 16MiB…; default: 16MiB)")
    load.set_defaults(handler=cmd_load)
    if with_pairs:
        nested = load.add_subparsers(dest="ingest_command", required=False, metavar="pairs")
        add_pairs_command(nested, "pairs")
    return load


def add_check_command(commands: Any, name: str = "check") -> argparse.ArgumentParser:
    """`check [--jobs N]`: the engine's verdict for every pair not judged yet."""
    check = subcommand(
        commands, name, help="judge every pair not judged yet (raw.mutation_verdicts)",
        description="Runs the mutation engine's check once per distinct (mutation, originalSql, mutatedSql) of "
        "raw.bug_reports (every folder, so raw and sqlsim forms) and raw.synthetic_pairs whose pair_hash has "
        "no verdict yet, on all cores, and stores verdicts with fingerprints.")
    jobs_option(check, "worker processes judging pairs")
    check.set_defaults(handler=cmd_check)
    return check


def add_datasets_command(commands: Any, name: str = "datasets") -> argparse.ArgumentParser:
    """`datasets [--dir DIR] [--require NAME]`: dataset configs into raw.dataset_configs, or check one name."""
    datasets = subcommand(
        commands, name, help="load datasets/*.yml into raw.dataset_configs (replaces all rows)",
        description="Validates every datasets/*.yml (format: ingest/datasets.py) and replaces raw.dataset_configs "
        "with one row per dataset and strategy. A bad file is an error naming the file and the key; then "
        "nothing is loaded.")
    # `--datasets-dir` is the name `pinoloft transform` gives the same folder; `--dir` is the short one here.
    datasets.add_argument("--dir", "--datasets-dir", dest="dir", default=DEFAULT_DATASETS_DIR, metavar="DIR",
                          help=f"folder of dataset YAML files (default: {DEFAULT_DATASETS_DIR})")
    datasets.add_argument("--require", metavar="NAME",
                          help="only check that NAME is a valid dataset there (exit 2 if not); the warehouse is not "
                          "opened")
    datasets.set_defaults(handler=cmd_datasets)
    return datasets


def add_synthesize_command(commands: Any, name: str = "synthesize") -> argparse.ArgumentParser:
    """`synthesize`: engine-made top-up pairs for datasets with top_up: true."""
    synthesize = subcommand(
        commands, name, help="derive top-up pairs for datasets with top_up: true",
        description="For datasets with top_up: true, derives engine-made pairs for strategies whose real supply "
        "is below the quota, from other real originals, into raw.synthetic_pairs (needs `check` first).")
    synthesize.set_defaults(handler=cmd_synthesize)
    return synthesize


def add_pairs_command(commands: Any, name: str = "pairs") -> argparse.ArgumentParser:
    """`pairs --input FILE.jsonl --source NAME [--dbms DBMS]`: pairs from outside PINOLO into raw.external_pairs."""
    from .external import DEFAULT_DBMS, KNOWN_DBMS

    pairs = subcommand(
        commands, name, help="load pairs from outside PINOLO (JSON lines) into raw.external_pairs",
        description="Each line holds original and mutated (required), optionally strategy, dbms, ddl and url "
        "(other keys are ignored). Each pair is checked against its strategy, or identified when it has none; "
        "a pair written backwards is stored the right way round; a pair no strategy explains is quarantined "
        "with the reason. Loading the same file again replaces its rows. Ends with the reconciliation line: "
        "lines = stored + quarantined + duplicates. Then `transform` takes the pairs like PINOLO's.")
    pairs.add_argument("--input", required=True, metavar="FILE", help="JSON lines file of pairs")
    pairs.add_argument("--source", required=True, metavar="NAME",
                       help="where the pairs come from (e.g. pinolo-bugs-2023); labels them up to the exports")
    pairs.add_argument("--dbms", default=DEFAULT_DBMS, type=str.lower, choices=KNOWN_DBMS,
                       help=f"the DBMS of a pair without a dbms key (default: {DEFAULT_DBMS})")
    pairs.set_defaults(handler=cmd_pairs)
    return pairs


def build_parser() -> argparse.ArgumentParser:
    parser, commands = command_parser(
        "python -m ingest",
        "Load PINOLO output into the warehouse's raw schema (docs/warehouse.md), judge every pair\n"
        "with the mutation engine, load dataset configs and derive synthetic top-up pairs.\n"
        "The same steps are `pinoloft ingest`, `pinoloft check` and `pinoloft datasets`.")
    add_load_command(commands)
    add_check_command(commands)
    add_datasets_command(commands)
    add_synthesize_command(commands)
    add_pairs_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), argv, interrupted=INTERRUPTED)
