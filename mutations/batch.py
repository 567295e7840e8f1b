"""Judging JSONL files of pairs, in parallel, with line-precise errors for malformed input."""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import BinaryIO, TextIO

from pinoloft_base.console import progress_bar

from .checker import check
from .strategies import STRATEGIES

REQUIRED_FIELDS = ("strategy", "original", "mutated")
CHUNK_LINES = 256
# What `json.dumps(record, ensure_ascii=False)` builds on every call, built once.
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode
_ENCODER = json.JSONEncoder(ensure_ascii=False)
# The C encoder `_ENCODE` makes afresh for each record, made once, with the same settings (separators,
# allow_nan, no key sorting). A record read from JSON holds no cycles, so `_ENCODE`'s cycle check (its
# `markers`) can never fire and is left out.
_C_ENCODER = json.encoder.c_make_encoder and json.encoder.c_make_encoder(
    None, _ENCODER.default, json.encoder.encode_basestring, None, _ENCODER.key_separator,
    _ENCODER.item_separator, _ENCODER.sort_keys, _ENCODER.skipkeys, _ENCODER.allow_nan)


def _encode_record(record: dict[str, object]) -> str:
    """`_ENCODE(record)` for a record decoded from JSON, without building the encoder per record."""
    if _C_ENCODER is None:  # pragma: no cover - CPython always has the C encoder
        return _ENCODE(record)
    return "".join(_C_ENCODER(record, 0))


@dataclass(slots=True)
class LineError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(slots=True)
class CheckSummary:
    """Counts per strategy; `errors` lists the malformed lines that were skipped."""

    source: str
    checked: Counter[str] = field(default_factory=Counter)
    conforming: Counter[str] = field(default_factory=Counter)
    errors: list[LineError] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.checked.values())

    def table(self) -> str:
        """The per-strategy summary printed to stderr by the CLI."""
        names = [name for name in STRATEGIES if self.checked[name]]
        names += sorted(name for name in self.checked if name not in STRATEGIES)
        width = max([len("strategy"), *(len(name) for name in names)])
        lines = [f"{'strategy':<{width}}  {'pairs':>8}  {'conforming':>10}  {'rate':>7}"]
        for name in names:
            total, good = self.checked[name], self.conforming[name]
            lines.append(f"{name:<{width}}  {total:>8}  {good:>10}  {good / total:>7.1%}")
        good = sum(self.conforming.values())
        rate = f"{good / self.total:>7.1%}" if self.total else f"{'-':>7}"
        lines.append(f"{'total':<{width}}  {self.total:>8}  {good:>10}  {rate}")
        if self.errors:
            lines.append(f"{len(self.errors)} malformed line(s) in {self.source} skipped")
        return "\n".join(lines)


def read_record(raw: bytes, required: tuple[str, ...]) -> tuple[dict[str, object] | None, str | None]:
    """(the JSON object of one input line, None), or (None, why the line cannot be used)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, f"invalid UTF-8 at byte {error.start}"
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        return None, f"not valid JSON: {error.msg} (column {error.colno})"
    if not isinstance(record, dict):
        return None, f"expected a JSON object, got {type(record).__name__}"
    missing = [name for name in required if name not in record]
    if missing:
        return None, "missing field(s): " + ", ".join(missing)
    wrong = [name for name in required if not isinstance(record[name], str)]
    if wrong:
        return None, "field(s) must be strings: " + ", ".join(wrong)
    return record, None


def judge_line(line_number: int, raw: bytes) -> tuple[int, str | None, str | None, str | None, bool]:
    """(line, output JSON or None, error or None, strategy, conforms) for one input line."""
    # The usual line (UTF-8, a JSON object, the three fields strings) is accepted with one test per field;
    # anything else is read again by `read_record`, which says what is wrong. json.loads makes exact dicts and
    # strs, and a missing field's None is no str, so both tests accept exactly the records `read_record` does.
    try:
        record = json.loads(raw.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError and json.JSONDecodeError, which `read_record` explains
        record = None
    if not (type(record) is dict and type(record.get("strategy")) is str and type(record.get("original")) is str
            and type(record.get("mutated")) is str):
        record, error = read_record(raw, REQUIRED_FIELDS)
        if record is None:
            return line_number, None, error, None, False
    verdict = check(record["original"], record["mutated"], record["strategy"])  # type: ignore[arg-type]
    record.update(verdict.as_dict())
    return line_number, _encode_record(record), None, record["strategy"], verdict.conforms


def _judge_chunk(chunk: list[tuple[int, bytes]]) -> list[tuple[int, str | None, str | None, str | None, bool]]:
    with batch_collections():
        return _judge_lines(chunk)


def _judge_lines(chunk: list[tuple[int, bytes]]) -> list[tuple[int, str | None, str | None, str | None, bool]]:
    return [judge_line(number, raw) for number, raw in chunk]


def _chunks(lines: Iterable[bytes]) -> Iterator[list[tuple[int, bytes]]]:
    chunk: list[tuple[int, bytes]] = []
    for number, raw in enumerate(lines, start=1):
        raw = raw.rstrip(b"\r\n")
        if not raw.strip():
            continue
        chunk.append((number, raw))
        if len(chunk) == CHUNK_LINES:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# Young-generation threshold while a batch is judged (CPython's default is 700 allocations). Above what the
# analysis cache keeps alive when full (4,096 analyses, about 25 tracked objects each: some 103,000), so the
# cache alone never fills the young generation and the collector scans it once, when the batch ends.
BATCH_GC_THRESHOLD = 200_000


@contextmanager
def batch_collections() -> Iterator[None]:
    """Fewer garbage collections while a batch is judged, the thresholds restored afterwards.

    Judging one pair allocates thousands of short-lived tokens and tree nodes, none in reference cycles when
    both texts read, so at CPython's default threshold the collector runs several times per pair and finds
    nothing to free; a higher young-generation threshold lets it run hardly at all. Those objects are freed by
    reference counting as before. An unreadable text makes no cycle either: the judge keeps its syntax error
    without the traceback (`mutations.checker._untraced`); any other cycle waits for at most 200,000
    allocations instead of 700.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(BATCH_GC_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def check_jsonl(source: BinaryIO, sink: TextIO, *, source_name: str = "<input>", jobs: int | None = None,
                total_lines: int | None = None, quiet: bool | None = None) -> CheckSummary:
    """Judge every line of `source`, write verdict lines to `sink` in input order, and count.

    Blank lines are ignored; malformed lines are recorded in the summary (with their line number) and
    skipped, so one bad line never costs the rest of the file.
    """
    summary = CheckSummary(source_name)
    jobs = jobs or os.cpu_count() or 1
    bar = progress_bar(total=total_lines, desc="check", unit="pair", quiet=quiet)
    pool = multiprocessing.get_context("fork").Pool(jobs) if jobs > 1 else None
    # One process judges the whole file under one raised threshold: restoring CPython's threshold after each
    # chunk would start a collection that scans every analysis the cache keeps, once per chunk.
    serial = batch_collections() if pool is None else nullcontext()
    try:
        with serial:
            if pool is not None:
                results = pool.imap(_judge_chunk, _chunks(source), chunksize=1)
            else:
                results = map(_judge_lines, _chunks(source))
            for chunk_result in results:
                for number, output, error, strategy, conforms in chunk_result:
                    if error is not None:
                        summary.errors.append(LineError(number, error))
                        continue
                    sink.write(output + "\n")  # type: ignore[operator]
                    summary.checked[strategy] += 1  # type: ignore[index]
                    if conforms:
                        summary.conforming[strategy] += 1  # type: ignore[index]
                bar.update(len(chunk_result))
    finally:
        bar.close()
        if pool is not None:
            pool.close()
            pool.join()
    return summary


def count_lines(path: str) -> int:
    """Line count for the progress bar's total (a fast binary scan)."""
    count = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            count += block.count(b"\n")
    return count
