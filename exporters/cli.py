"""`python -m exporters`: export datasets from the warehouse, and check any chat JSONL file.

The library raises; the runner (`pinoloft_base.cli.run`) alone turns errors into the exit codes every
pinoloft command shares. Here: 0 done, and no format errors; 1 format errors found (the files are still
written by `export`), or a warning with --strict; 2 could not run (missing warehouse or dataset, unknown
model, unreadable config); 3 the warehouse is in use by another process.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pinoloft_base.cli import command_parser, jobs_option, run, subcommand
from pinoloft_base.errors import EXIT_FINDINGS, EXIT_OK

from .check import check_file
from .export import export_datasets
from .findings import DEFAULT_MAX_SYNTHETIC_SHARE
from .formats import FORMATS, KNOWN_FORMATS
from .models import load_models
from .report import check_text, usd

INTERRUPTED_EXPORT = "interrupted: the dataset being exported keeps its previous files; rerun to export it"


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"a share is between 0 and 1, got {text}")
    return value


def cmd_export(args: argparse.Namespace) -> int:
    results = export_datasets(args.warehouse, args.dataset, args.out, model=args.model, threads=args.jobs,
                              formats=args.format, max_synthetic_share=args.max_synthetic_share)
    status = EXIT_OK
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
            status = EXIT_FINDINGS
        for warning in result.warnings:
            print(f"  warning: {warning}")
        if args.strict and result.warnings:
            status = EXIT_FINDINGS
        for name, entry in report.get("formats", {}).items():
            names = ", ".join(Path(path).name for path in entry["files"])
            print(f"  {name}: {result.directory}/{entry['folder']} ({names})")
        print(f"  report: {result.directory}/report.md, report.html, report.json; card: {result.directory}/README.md")
    return status


def cmd_check(args: argparse.Namespace) -> int:
    meta: object = False if args.no_meta else (args.meta or True)
    result = check_file(args.file, args.model, meta=meta, threads=args.jobs)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(check_text(result))
    if result.n_format_errors:
        return EXIT_FINDINGS
    return EXIT_FINDINGS if args.strict and result.warnings() else EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    table = load_models()
    for name, spec in table.models.items():
        default = " (default)" if name == table.default else ""
        aliases = f" aliases: {', '.join(spec.aliases)}" if spec.aliases else ""
        print(f"{name}{default}: {spec.encoding}, {spec.token_limit:,} tokens per example, "
              f"${spec.usd_per_1m_training_tokens:.2f} per 1M training tokens;{aliases}")
    return EXIT_OK


def add_export_command(commands, name: str = "export") -> argparse.ArgumentParser:
    """`export`: train/validation/test JSONL, sidecars and a checked report per dataset (exit 1 on format
    errors, or on warnings with --strict)."""
    export = subcommand(
        commands, name,
        help="write train/validation/test JSONL, sidecars and a checked report for a dataset",
        description="Reads marts.dataset_examples (read-only) and writes <out>/<dataset>/{train,validation,test}"
        ".jsonl, a .meta.jsonl beside each (same line order), report.json and report.md; with --format, the same "
        "examples for other trainers too, one folder per format (docs/export.md).",
    )
    export.add_argument("--dataset", "-d", action="append", metavar="NAME",
                        help="dataset to export (repeatable; default: every dataset in the warehouse)")
    export.add_argument("--out", "-o", default="data/exports", help="output folder (default: data/exports)")
    export.add_argument("--model", "-m", default=None, help="model for limits and price (default: gpt-4o-mini)")
    export.add_argument("--format", "-f", action="append", metavar="NAME",
                        help=f"also write this format: {', '.join(FORMATS)}, or all (repeatable, or a comma list; "
                        f"the OpenAI files are always written; known: {', '.join(KNOWN_FORMATS)})")
    jobs_option(export, "token-counting threads")
    export.add_argument("--max-synthetic-share", type=_share, default=DEFAULT_MAX_SYNTHETIC_SHARE, metavar="SHARE",
                        help="warn when more than this share of the examples (0 to 1), overall or in a split, is "
                        f"synthetic (default: {DEFAULT_MAX_SYNTHETIC_SHARE})")
    export.add_argument("--strict", action="store_true",
                        help="exit with 1 on warnings too (overlap, duplicates, small splits, synthetic share…)")
    # A dataset's files are renamed into place only once its whole export has succeeded (exporters.export).
    export.set_defaults(handler=cmd_export, interrupted_message=INTERRUPTED_EXPORT)
    return export


def add_check_command(commands, name: str = "check") -> argparse.ArgumentParser:
    """`check FILE.jsonl`: the data check of any chat JSONL file (exit 1 on format errors, or on warnings
    with --strict)."""
    check = subcommand(
        commands, name,
        help="check any chat-format JSONL file (format errors, tokens, epochs, cost)",
        description="Checks FILE line by line; never stops on a bad line. Human report on stdout, or one JSON "
        "object with --json. Counts per strategy and DBMS come from FILE's .meta.jsonl sidecar when present.",
    )
    check.add_argument("file", metavar="FILE.jsonl")
    check.add_argument("--model", "-m", default=None, help="model for limits and price (default: gpt-4o-mini)")
    check.add_argument("--json", action="store_true", help="print one JSON object instead of the text report")
    check.add_argument("--meta", default=None, help="sidecar file (default: FILE with .meta.jsonl, if present)")
    check.add_argument("--no-meta", action="store_true", help="ignore any sidecar")
    jobs_option(check, "token-counting threads")
    check.add_argument("--strict", action="store_true", help="exit with 1 on warnings too")
    check.set_defaults(handler=cmd_check)
    return check


def add_models_command(commands, name: str = "models") -> argparse.ArgumentParser:
    """`models`: the model table (limits and prices)."""
    models = subcommand(commands, name,
                                 help="list the model table (exporters/config/models.yml)")
    models.set_defaults(handler=cmd_models)
    return models


def build_parser() -> argparse.ArgumentParser:
    parser, commands = command_parser(
        "python -m exporters",
        "Write fine-tuning JSONL from the warehouse, and check chat JSONL files the way OpenAI's "
        "cookbook does (corrected): format errors, token counts, epochs and cost.")
    add_export_command(commands)
    add_check_command(commands)
    add_models_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), argv)
