"""`python -m exporters`: export datasets from the warehouse, and check any chat JSONL file.

The library raises; this module alone turns outcomes into exit codes:
0 done, and no format errors; 1 format errors found (the files are still written by `export`), or a
warning with --strict; 2 could not run (missing warehouse or dataset, unknown model, unreadable config).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from .check import check_file
from .console import setup_logging
from .errors import ExportersError
from .export import export_datasets
from .models import load_models
from .report import check_text, usd

log = logging.getLogger("exporters")


def cmd_export(args: argparse.Namespace) -> int:
    results = export_datasets(args.warehouse, args.dataset, args.out, model=args.model, threads=args.threads)
    status = 0
    for result in results:
        report = result.report
        training = report["training"]
        print(f"{result.dataset}: {sum(result.split_counts.values()):,} examples "
              f"(train {result.split_counts['train']:,}, validation {result.split_counts['validation']:,}, "
              f"test {result.split_counts['test']:,}) in {result.directory}/")
        print(f"  training: {training['n_epochs']} epochs, {training['billing_tokens']:,} billed tokens, "
              f"about {usd(training['estimated_cost_usd'])} ({report['model']})")
        if result.n_format_errors:
            print(f"  FORMAT ERRORS: {result.n_format_errors:,}; see {result.directory}/report.md")
            status = 1
        for warning in result.warnings:
            print(f"  warning: {warning}")
        if args.strict and result.warnings:
            status = 1
        print(f"  report: {result.directory}/report.md, {result.directory}/report.json")
    return status


def cmd_check(args: argparse.Namespace) -> int:
    meta: object = False if args.no_meta else (args.meta or True)
    result = check_file(args.file, args.model, meta=meta, threads=args.threads)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(check_text(result))
    if result.n_format_errors:
        return 1
    return 1 if args.strict and result.warnings() else 0


def cmd_models(args: argparse.Namespace) -> int:
    table = load_models()
    for name, spec in table.models.items():
        default = " (default)" if name == table.default else ""
        aliases = f" aliases: {', '.join(spec.aliases)}" if spec.aliases else ""
        print(f"{name}{default}: {spec.encoding}, {spec.token_limit:,} tokens per example, "
              f"${spec.usd_per_1m_training_tokens:.2f} per 1M training tokens;{aliases}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m exporters",
        description="Write fine-tuning JSONL from the warehouse, and check chat JSONL files the way OpenAI's "
        "cookbook does (corrected): format errors, token counts, epochs and cost.",
        epilog="Exit codes: 0 ok; 1 format errors (or warnings with --strict); 2 could not run.",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars or info messages")
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logging")
    # --quiet/--verbose are accepted after the subcommand too (SUPPRESS keeps the top-level value otherwise)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    common.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True)

    export = commands.add_parser(
        "export",
        parents=[common],
        help="write train/validation/test JSONL, sidecars and a checked report for a dataset",
        description="Reads marts.dataset_examples (read-only) and writes <out>/<dataset>/{train,validation,test}"
        ".jsonl, a .meta.jsonl beside each (same line order), report.json and report.md.",
    )
    export.add_argument("--dataset", "-d", action="append", metavar="NAME",
                        help="dataset to export (repeatable; default: every dataset in the warehouse)")
    export.add_argument("--warehouse", "-w", default="data/warehouse.duckdb",
                        help="DuckDB file (default: data/warehouse.duckdb)")
    export.add_argument("--out", "-o", default="data/exports", help="output folder (default: data/exports)")
    export.add_argument("--model", "-m", default=None, help="model for limits and price (default: gpt-4o-mini)")
    export.add_argument("--threads", "-j", type=int, default=None, help="token-counting threads (default: cores)")
    export.add_argument("--strict", action="store_true", help="exit with 1 on warnings too (overlap, duplicates…)")
    export.set_defaults(handler=cmd_export)

    check = commands.add_parser(
        "check",
        parents=[common],
        help="check any chat-format JSONL file (format errors, tokens, epochs, cost)",
        description="Checks FILE line by line; never stops on a bad line. Human report on stdout, or one JSON "
        "object with --json. Counts per strategy and DBMS come from FILE's .meta.jsonl sidecar when present.",
    )
    check.add_argument("file", metavar="FILE.jsonl")
    check.add_argument("--model", "-m", default=None, help="model for limits and price (default: gpt-4o-mini)")
    check.add_argument("--json", action="store_true", help="print one JSON object instead of the text report")
    check.add_argument("--meta", default=None, help="sidecar file (default: FILE with .meta.jsonl, if present)")
    check.add_argument("--no-meta", action="store_true", help="ignore any sidecar")
    check.add_argument("--threads", "-j", type=int, default=None, help="token-counting threads (default: cores)")
    check.add_argument("--strict", action="store_true", help="exit with 1 on warnings too")
    check.set_defaults(handler=cmd_check)

    models = commands.add_parser("models", parents=[common], help="list the model table (exporters/config/models.yml)")
    models.set_defaults(handler=cmd_models)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(quiet=args.quiet, verbose=args.verbose)
    try:
        return args.handler(args)
    except ExportersError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
