"""`export`: one dataset of `marts.dataset_examples` to chat JSONL files, sidecars and a checked report.

For a dataset NAME it writes, under `<out>/NAME/`:

* `train.jsonl`, `validation.jsonl`, `test.jsonl`: one chat example per line, in `position` order,
  `{"messages": [{"role": "system", ...}, {"role": "user", ...}, {"role": "assistant", ...}]}`
  (the format of ../shared/docs/strategy-prompts.md; the mart already holds the system prompt);
* `train.meta.jsonl`, ...: line N describes line N of the data file (ids, DBMS, strategy, provenance,
  lengths, token counts, validation status, synthetic flag, format errors);
* `report.json`, `report.md` and `report.html`: the data check of each split and of the whole export, with
  the overlap of user contents (and of original fingerprints) across splits, the counts per strategy and DBMS
  and the warnings (exporters.findings); the HTML page draws them (exporters.report_html);
* `README.md`: the dataset card (exporters.card): sources, settings, counts, every file with its sha256;
* with `formats`, the same examples for other trainers and services, one folder per format
  (`hf/`, `llamafactory/`, `axolotl/`, `vertex/`: exporters.formats), listed with their sha256 in the report.

Tokens are counted once, while writing; the report is the same check as `python -m exporters check`.
Every file is first written beside its target under a temporary name and renamed into place only when
the whole export has succeeded, so a failed export leaves the previous files as they were. The output
holds no timestamps and nothing about the run itself (no output path, no thread count): the same warehouse
gives byte-identical files.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

from pinoloft_base.console import progress_bar
from pinoloft_base.warehouse import connect

from .check import Analyzer, CheckResult, ExampleStats, Summary
from .card import dataset_card
from .errors import DatasetNotFoundError, ExportersError
from .findings import CHECK_CODES, DEFAULT_MAX_SYNTHETIC_SHARE, finding, shape_findings
from .formats import FormatWriter, open_writers, parse_formats, remove_stale
from .models import ModelSpec, get_model
from .report import export_markdown
from .report_html import export_html
from .selection import read_selection
from .staging import StagedFile
from .tokens import TokenCounter, get_encoding
from .warehouse import SPLITS, check_columns, iter_examples, list_datasets, split_counts

log = logging.getLogger("exporters.export")

_FLAG_NAMES = {True: "true", False: "false"}
SPLIT_PAIRS = (("train", "validation"), ("train", "test"), ("validation", "test"))
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


@dataclass
class ExportResult:
    """What `export_dataset` wrote and found."""

    dataset: str
    directory: Path
    split_counts: dict[str, int]
    results: dict[str, CheckResult]
    total: CheckResult
    overlap: dict[str, dict[str, int]]
    report: dict[str, Any]
    files: list[Path] = field(default_factory=list)
    formats: tuple[str, ...] = ()  # the extra formats written (exporters.formats), beside the OpenAI files

    @property
    def n_format_errors(self) -> int:
        return self.total.n_format_errors

    @property
    def warnings(self) -> list[str]:
        """The message of each warning (report.json `warnings` holds them with code, split, strategy, fix)."""
        return [warning["message"] for warning in self.report["warnings"]]


def _example(row: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [
        {"role": "system", "content": row["system_prompt"]},
        {"role": "user", "content": row["user_content"]},
        {"role": "assistant", "content": row["assistant_content"]},
    ]}


def _line(row: dict[str, Any]) -> str:
    """`json.dumps(_example(row), ensure_ascii=False)`, built directly when the three contents are strings.

    The strings go through `json.encoder.encode_basestring`, the function json.dumps itself uses with
    ensure_ascii=False, so the text is byte for byte the same (tested), in a third of the time."""
    system, user, assistant = row["system_prompt"], row["user_content"], row["assistant_content"]
    if type(system) is str and type(user) is str and type(assistant) is str:
        return ('{"messages": [{"role": "system", "content": ' + encode_basestring(system)
                + '}, {"role": "user", "content": ' + encode_basestring(user)
                + '}, {"role": "assistant", "content": ' + encode_basestring(assistant) + "}]}")
    return json.dumps(_example(row), ensure_ascii=False)


def _meta(row: dict[str, Any], dataset: str, split: str, line: int, stats: ExampleStats,
          token_limit: int) -> dict[str, Any]:
    system = row["system_prompt"]
    return {
        "example_id": row["example_id"],
        "dataset": dataset,
        "split": split,
        "line": line,
        "position": row["position"],
        "dbms": row["dbms"],
        "strategy": row["strategy"],
        "is_upper": row["is_upper"],
        "is_synthetic": row["is_synthetic"],
        "validation_status": row["validation_status"],
        "content_form": row["content_form"],
        "stability": row["stability"],
        "occurrences": row["occurrences"],
        "provenance": {
            "source": row["source"],
            "source_root": row["source_root"],
            "run": row["run"],
            "task": row["task"],
            "bug_id": row["bug_id"],
            "sql_id": row["sql_id"],
            "relative_path": row["relative_path"],
            "pair_id": row["pair_id"],
            "pair_hash": row["pair_hash"],
            "original_fingerprint": row["original_fingerprint"],
        },
        "lengths": {
            "system": len(system) if isinstance(system, str) else None,
            "user": row["user_length"],
            "assistant": row["assistant_length"],
        },
        "tokens": {
            "total": stats.total_tokens,
            "system": stats.system_tokens,
            "user": stats.user_tokens,
            "assistant": stats.assistant_tokens,
        },
        "over_token_limit": None if stats.total_tokens is None else stats.total_tokens > token_limit,
        "format_errors": stats.categories,
    }


def _json_default(value: object) -> object:
    return str(value)


@dataclass
class _Batch:
    rows: list[dict[str, Any]]
    lines: list[str]
    finish: Callable[[], list[ExampleStats]]
    first_line: int


class _Tally:
    """Everything an export accumulates besides the files: per-split and total summaries, overlap sets,
    synthetic and validation-status counts."""

    def __init__(self, dataset: str, token_limit: int) -> None:
        self.dataset = dataset
        self.token_limit = token_limit
        self.summaries = {split: Summary(source=f"{split}.jsonl") for split in SPLITS}
        self.total = Summary(source="total")
        self.users: dict[str, set[bytes]] = {split: set() for split in SPLITS}
        self.fingerprints: dict[str, set[str]] = {split: set() for split in SPLITS}
        self.synthetic: dict[str, Counter] = {split: Counter() for split in SPLITS}
        self.validation: dict[str, Counter] = {split: Counter() for split in SPLITS}
        # for the warnings, the HTML page and the card
        self.shape: dict[str, Counter] = {split: Counter() for split in SPLITS}  # (strategy, dbms, synthetic)
        self.tokens: dict[str, dict[str, list[int]]] = {split: {"total": [], "assistant": []} for split in SPLITS}
        self.validation_by_strategy: dict[str, Counter] = {}
        self.sources: set[tuple[str, str, str]] = set()  # (source_root, run, dbms) of real examples; "" unknown
        self.external: Counter[str] = Counter()  # examples per source name of pairs from outside PINOLO

    def write(self, split: str, batch: _Batch, data_file: StagedFile, meta_file: StagedFile) -> list[dict[str, Any]]:
        """Finish a batch (wait for its token counts), tally it and write its data and sidecar lines; returns
        the sidecar dicts (for the other formats' writers)."""
        summary = self.summaries[split]
        metas = []
        meta_lines = []
        for number, (row, stats) in enumerate(zip(batch.rows, batch.finish()), start=batch.first_line):
            summary.add(stats, token_limit=self.token_limit)
            self.total.add(stats, source=summary.source, token_limit=self.token_limit)
            summary.count_meta(row["strategy"], row["dbms"])
            self.total.count_meta(row["strategy"], row["dbms"])
            if stats.user_digest is not None:
                self.users[split].add(stats.user_digest)
            if row["original_fingerprint"] is not None:
                self.fingerprints[split].add(row["original_fingerprint"])
            self.synthetic[split][_FLAG_NAMES.get(row["is_synthetic"], "null")] += 1
            self.validation[split][str(row["validation_status"])] += 1
            self.shape[split][(str(row["strategy"]), str(row["dbms"]), row["is_synthetic"] is True)] += 1
            if stats.total_tokens is not None:
                self.tokens[split]["total"].append(stats.total_tokens)
            if stats.assistant_tokens is not None:
                self.tokens[split]["assistant"].append(stats.assistant_tokens)
            self.validation_by_strategy.setdefault(str(row["strategy"]), Counter())[
                str(row["validation_status"])] += 1
            if row["source"] not in (None, "pinolo", "synthetic"):  # a pair from outside PINOLO
                self.external[str(row["source"])] += 1
            elif not row["is_synthetic"]:
                self.sources.add((row["source_root"] or "", row["run"] or "", row["dbms"] or ""))
            meta = _meta(row, self.dataset, split, number, stats, self.token_limit)
            metas.append(meta)
            meta_lines.append(json.dumps(meta, ensure_ascii=False, default=_json_default))
        data_file.write_lines(batch.lines)
        meta_file.write_lines(meta_lines)
        return metas


def export_dataset(warehouse: str | Path, dataset: str, out_dir: str | Path = "data/exports", *,
                   model: str | ModelSpec | None = None, threads: int | None = None, batch_size: int = 2048,
                   quiet: bool | None = None, formats: str | list[str] | tuple[str, ...] | None = None,
                   max_synthetic_share: float = DEFAULT_MAX_SYNTHETIC_SHARE) -> ExportResult:
    """Export `dataset` from the warehouse (opened read-only) into `<out_dir>/<dataset>/`.

    `formats` adds other trainers' formats (exporters.formats: hf, llamafactory, axolotl, vertex, all),
    written from the same rows in the same order; without it the files are exactly those of the OpenAI
    export. Files of a format not asked for left there by an earlier export are removed once this one has
    succeeded, since they would no longer match. `max_synthetic_share` (0 to 1) is the share of synthetic
    examples, overall or in a split, above which the export warns."""
    if not 0 <= max_synthetic_share <= 1:
        raise ExportersError(f"max synthetic share must be between 0 and 1, got {max_synthetic_share}")
    if not _SAFE_NAME.fullmatch(dataset):
        raise ExportersError(f"dataset name {dataset!r} cannot be used as a folder name")
    extra = parse_formats(formats)
    spec = model if isinstance(model, ModelSpec) else get_model(model)
    encoding = get_encoding(spec.encoding)
    con = connect(warehouse, read_only=True)
    staged: list[StagedFile] = []
    writers: list[FormatWriter] = []
    try:
        present = check_columns(con)
        counts = split_counts(con, dataset)
        selection = read_selection(con, dataset)
        directory = Path(out_dir) / dataset
        directory.mkdir(parents=True, exist_ok=True)
        writers = open_writers(extra, directory, dataset)
        tally = _Tally(dataset, spec.token_limit)
        files: dict[str, dict[str, Any]] = {}
        with TokenCounter(encoding, threads) as counter, \
                progress_bar(total=sum(counts.values()), desc=f"export {dataset}", unit="ex", quiet=quiet) as bar:
            analyzer = Analyzer(spec, counter)
            for split in SPLITS:
                data_file = StagedFile(directory / f"{split}.jsonl")
                staged.append(data_file)
                meta_file = StagedFile(directory / f"{split}.meta.jsonl")
                staged.append(meta_file)
                line = 0
                pending: _Batch | None = None
                for rows in iter_examples(con, dataset, split, batch_size, present):
                    examples = [_example(row) for row in rows]
                    lines = [_line(row) for row in rows]
                    items = [(line + offset, example) for offset, example in enumerate(examples, start=1)]
                    # the tokens of this batch are counted on the pool while the previous batch is written
                    started = _Batch(rows, lines, analyzer.start(items, lines=lines, track_user=True), line + 1)
                    line += len(rows)
                    if pending is not None:
                        _write_batch(tally, split, pending, data_file, meta_file, writers)
                        bar.update(len(pending.rows))
                    pending = started
                if pending is not None:
                    _write_batch(tally, split, pending, data_file, meta_file, writers)
                    bar.update(len(pending.rows))
                for writer in writers:
                    writer.end_split(split)
                data_file.close()
                meta_file.close()
                files[data_file.target.name] = {"examples": data_file.lines, "bytes": data_file.size,
                                                "sha256": data_file.sha256.hexdigest(),
                                                "meta": meta_file.target.name,
                                                "meta_sha256": meta_file.sha256.hexdigest()}
        results = {split: tally.summaries[split].result(spec, encoding.name) for split in SPLITS}
        total_result = tally.total.result(spec, encoding.name)
        overlap = {
            "user_content": {f"{a}/{b}": len(tally.users[a] & tally.users[b]) for a, b in SPLIT_PAIRS},
            "original_fingerprint": {f"{a}/{b}": len(tally.fingerprints[a] & tally.fingerprints[b])
                                     for a, b in SPLIT_PAIRS},
        }
        format_files = None
        if writers:
            format_files = {}
            for writer in writers:
                writer.finish(counts)
                format_files[writer.name] = {"folder": f"{writer.name}/", "files": writer.files()}
        report = _report(dataset, spec, encoding.name, files, results, total_result, overlap, tally.synthetic,
                         tally.validation, format_files)
        for writer in writers:
            report["warnings"].extend(finding("format_limit", warning) for warning in writer.warnings(counts))
        shape = {split: Counter() for split in SPLITS}
        for split, per in tally.shape.items():
            for (strategy, _, is_synthetic), n in per.items():
                shape[split][(strategy, is_synthetic)] += n
        report["warnings"].extend(shape_findings(shape, selection.requested, max_synthetic_share))
        if selection.strategies:
            report["selection"] = [item.to_json() for item in selection.strategies]
        report_json = StagedFile(directory / "report.json")
        staged.append(report_json)
        report_json.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=_json_default) + "\n")
        report_md = StagedFile(directory / "report.md")
        staged.append(report_md)
        report_md.write_text(export_markdown(report, results, total_result))
        report_html = StagedFile(directory / "report.html")
        staged.append(report_html)
        report_html.write_text(export_html(report, tally.shape, tally.tokens, tally.validation_by_strategy))
        card = StagedFile(directory / "README.md")
        staged.append(card)
        card.write_text(dataset_card(report, tally.shape, selection, sorted(tally.sources),
                                       external=dict(sorted(tally.external.items()))))
        for item in staged:
            item.commit()
        for writer in writers:
            writer.commit()
    except BaseException:
        for item in staged:
            item.discard()
        for writer in writers:
            writer.discard()
        raise
    finally:
        con.close()
    for path in remove_stale(directory, extra):
        log.info("removed %s: written by an earlier export, it no longer matches this one", path)
    # debug: the CLI prints this summary itself (with the epochs and cost); once is enough at the default level
    log.debug("exported %s: %s examples (%s) to %s", dataset, f"{sum(counts.values()):,}",
             ", ".join(f"{split} {counts[split]:,}" for split in SPLITS), directory)
    return ExportResult(dataset=dataset, directory=directory, split_counts=counts, results=results,
                        total=total_result, overlap=overlap, report=report,
                        files=[item.target for item in staged]
                        + [item.target for writer in writers for item in writer.staged],
                        formats=extra)


def _write_batch(tally: _Tally, split: str, batch: _Batch, data_file: StagedFile, meta_file: StagedFile,
                 writers: list[FormatWriter]) -> None:
    """One batch into the OpenAI file and its sidecar, then into every other format asked for."""
    metas = tally.write(split, batch, data_file, meta_file)
    for writer in writers:
        writer.write(split, batch.rows, batch.lines, metas)


def _report(dataset: str, spec: ModelSpec, encoding: str, files: dict[str, dict[str, Any]],
            results: dict[str, CheckResult], total: CheckResult, overlap: dict[str, dict[str, int]],
            synthetic: dict[str, Counter], validation: dict[str, Counter],
            formats: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    warnings: list[dict[str, Any]] = []
    for split, result in results.items():
        if result.n_format_errors:
            warnings.append(finding("format_errors", f"{split}.jsonl: {result.n_format_errors} format error(s)",
                                    split))
        # "too few" is the training rule; validation and test get the small_split warning (exporters.findings)
        warnings.extend(finding(CHECK_CODES[kind], f"{split}.jsonl: {warning}", split)
                        for kind, warning in result.warning_items() if not (split != "train" and kind == "too_few"))
    if total.n_duplicates > sum(result.n_duplicates for result in results.values()):
        warnings.append(finding("cross_split_duplicates",
                                f"{total.n_duplicates - sum(r.n_duplicates for r in results.values())} example(s) "
                                "duplicate an example of another split"))
    for kind, label in (("user_content", "user content"), ("original_fingerprint", "original fingerprint")):
        for pair, shared in overlap[kind].items():
            if shared:
                warnings.append(finding("overlap", f"{shared} {label}(s) appear in both {pair.replace('/', ' and ')}",
                                        pair))
    rows = []
    combos: dict[tuple[str, str], dict[str, int]] = {}
    for split, result in results.items():
        for strategy, per_dbms in (result.counts or {}).get("by_strategy_dbms", {}).items():
            for dbms, count in per_dbms.items():
                combos.setdefault((strategy, dbms), {s: 0 for s in SPLITS})[split] = count
    for (strategy, dbms), per_split in sorted(combos.items()):
        rows.append({"strategy": strategy, "dbms": dbms, **per_split, "total": sum(per_split.values())})
    train = results["train"]
    # "formats" only when other formats were asked for: without them, report.json is what it always was
    other_formats = {} if formats is None else {"formats": formats}
    return {
        "dataset": dataset,
        "model": spec.name,
        "encoding": encoding,
        "token_limit": spec.token_limit,
        "usd_per_1m_training_tokens": spec.usd_per_1m_training_tokens,
        "files": files,
        **other_formats,
        "training": {"n_examples": train.n_valid, "n_epochs": train.n_epochs,
                     "billing_tokens": train.billing_tokens, "estimated_cost_usd": train.estimated_cost_usd},
        "n_format_errors": total.n_format_errors,
        "warnings": warnings,
        "overlap": overlap,
        "counts": {
            "by_strategy_dbms": rows,
            "is_synthetic": {split: dict(sorted(synthetic[split].items())) for split in SPLITS},
            "validation_status": {split: dict(sorted(validation[split].items())) for split in SPLITS},
        },
        "splits": {split: result.to_json() for split, result in results.items()},
        "total": total.to_json(),
    }


def export_datasets(warehouse: str | Path, datasets: list[str] | None = None, out_dir: str | Path = "data/exports",
                    **options: Any) -> list[ExportResult]:
    """Export the named datasets, or every dataset of the warehouse when `datasets` is empty or None
    (empty names count as none, so `make export DATASET=` exports them all)."""
    parse_formats(options.get("formats"))  # an unknown format is the first error, before any warehouse one
    datasets = [name for name in datasets or () if name]
    if not datasets:
        con = connect(warehouse, read_only=True)
        try:
            datasets = list_datasets(con)
        finally:
            con.close()
        if not datasets:
            raise DatasetNotFoundError("(any)", [])
    return [export_dataset(warehouse, name, out_dir, **options) for name in datasets]
