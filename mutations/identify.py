"""Which strategies relate two queries: `identify(original, mutated)`.

Pairs from outside PINOLO (hand-reduced bug reports, pairs from papers) come without a strategy name, and
some are written with the mutated query first. `identify` asks the judge every question at once: for each of
the 18 strategies, does it turn `original` into `mutated` (reversed=False), or `mutated` into `original`
(reversed=True)? Each direction costs one parse: the candidates of the text that would be the original are
matched against the other text's tokens, all strategies in one pass (`checker.conforming_candidates`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import BinaryIO, TextIO

from .batch import LineError, read_record
from .checker import conforming_candidates
from .engine import analyse
from .errors import SqlSyntaxError
from .tokens import tokenize

IDENTIFY_FIELDS = ("original", "mutated")


@dataclass(frozen=True, slots=True)
class Identification:
    """One strategy that explains a pair; `is_upper` is that of the mutation (of `mutated` when reversed)."""

    strategy: str
    is_upper: bool
    reversed: bool

    def as_dict(self) -> dict[str, object]:
        return {"strategy": self.strategy, "is_upper": self.is_upper, "reversed": self.reversed}


def _one_way(source: str, target: str, reversed_: bool) -> list[Identification]:
    """The strategies that turn `source` into `target`; none when either text cannot be read."""
    try:
        analysis = analyse(source)
        target_keys = tokenize(target).keys
    except SqlSyntaxError:
        return []
    return [Identification(name, candidate.is_upper, reversed_)
            for name, candidate in conforming_candidates(analysis, target_keys).items()]


def identify(original: str, mutated: str) -> list[Identification]:
    """Every strategy that turns `original` into `mutated`, then every one that turns `mutated` into `original`
    (reversed=True), each in the order of the 18. A pair that is no mutation, or unreadable SQL, gives [].
    """
    return _one_way(original, mutated, False) + _one_way(mutated, original, True)


@dataclass(slots=True)
class IdentifySummary:
    """How many pairs were identified, how many no strategy explains, and the malformed lines skipped."""

    source: str
    pairs: int = 0
    unexplained: int = 0
    reversed_only: int = 0
    errors: list[LineError] | None = None

    def describe(self) -> str:
        lines = [f"identify: {self.pairs} pair(s): {self.pairs - self.unexplained} explained by a strategy "
                 f"({self.reversed_only} only when read backwards), {self.unexplained} by none"]
        if self.errors:
            lines.append(f"{len(self.errors)} malformed line(s) in {self.source} skipped")
        return "\n".join(lines)


def identify_jsonl(source: BinaryIO, sink: TextIO, *, source_name: str = "<input>") -> IdentifySummary:
    """Add `identified` to every JSON line of `source` (other keys pass through) and write it to `sink`.

    Blank lines are ignored; malformed lines are recorded (with their line number) and skipped.
    """
    summary = IdentifySummary(source_name, errors=[])
    for number, raw in enumerate(source, start=1):
        raw = raw.rstrip(b"\r\n")
        if not raw.strip():
            continue
        record, error = read_record(raw, IDENTIFY_FIELDS)
        if error is not None:
            summary.errors.append(LineError(number, error))  # type: ignore[union-attr]
            continue
        found = identify(record["original"], record["mutated"])  # type: ignore[index]
        record["identified"] = [item.as_dict() for item in found]  # type: ignore[index]
        sink.write(json.dumps(record, ensure_ascii=False) + "\n")
        summary.pairs += 1
        if not found:
            summary.unexplained += 1
        elif all(item.reversed for item in found):
            summary.reversed_only += 1
    return summary
