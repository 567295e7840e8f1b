"""PINOLO's oracle (reference §6): one statement's outcome, its result digest, CMP and Check on two results.

PINOLO scans every cell as the server's text (SQL NULL as the string `NULL`), joins a row's cells with `,`
and compares the two results as multisets of those row strings. We keep the same row strings, so a pair
that PINOLO reported compares here exactly as it did there; the digest is a stable name for the multiset.

The one copy, used by validation (outcomes of statements run on a real server) and by the simulator (result
rows it draws so that the oracle fires, as a bug file exists only when it did).

    >>> compare_rows([["1"]], [["1"], ["2"]]), check_rows([["1"]], [["1"], ["2"]], is_upper=True)
    (-1, True)
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii

__all__ = [
    "Outcome",
    "check_rows",
    "compare",
    "compare_multisets",
    "compare_rows",
    "expectation_holds",
    "oracle",
    "result_digest",
    "row_string",
]

Cell = str | bytes | None


@dataclass(slots=True)
class Outcome:
    """What one execution of one statement gave. `rows` (the multiset) stays in memory for the oracle."""

    status: str
    error_code: int | None = None
    error: str | None = None
    row_count: int | None = None
    column_count: int | None = None
    digest: str | None = None
    duration_ms: float | None = None
    rows: Counter | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def row_string(row: Sequence[Cell]) -> str:
    """PINOLO's row string: cells as text, NULL as `NULL`, joined by `,` (binary cells keep their bytes)."""
    return ",".join(
        "NULL" if cell is None else cell.decode("utf-8", "surrogateescape") if isinstance(cell, bytes) else cell
        for cell in row
    )


def result_digest(row_strings: Iterable[str]) -> str:
    """SHA-256 hex of the sorted row strings as a JSON array: equal digests ⇔ equal multisets.

    The bytes hashed are exactly `json.dumps(sorted(row_strings))`, fed to the hash one row at a time: the
    whole text at once would cost up to 12 times the result's size (a control character is 6 ASCII bytes
    in JSON, and again once encoded), a gigabyte for a result within the runner's byte cap."""
    digest = hashlib.sha256(b"[")
    separator = b""
    for row in sorted(row_strings):
        digest.update(separator)
        digest.update(encode_basestring_ascii(row).encode("ascii"))
        separator = b", "
    digest.update(b"]")
    return digest.hexdigest()


def compare_multisets(original: Counter, mutated: Counter, original_columns: int | None,
                      mutated_columns: int | None) -> int:
    """PINOLO's CMP on two multisets of row strings: 0 equal, -1 original ⊂ mutated, +1 mutated ⊂ original,
    2 neither. An empty result contains nothing and is contained in everything, whatever its columns (PINOLO
    looks at emptiness before it compares column counts)."""
    if not original or not mutated:
        if not original and not mutated:
            return 0
        return -1 if not original else 1
    if original_columns != mutated_columns:
        return 2
    if original == mutated:
        return 0
    if original <= mutated:
        return -1
    if mutated <= original:
        return 1
    return 2


def expectation_holds(cmp: int, is_upper: bool) -> bool:
    """PINOLO's Check: the results agree with the mutation's polarity (an upper mutation may only add rows,
    a lower one only remove them). False is a logic bug."""
    return cmp == 0 or (is_upper and cmp == -1) or (not is_upper and cmp == 1)


def compare(original: Outcome, mutated: Outcome) -> int | None:
    """CMP on two outcomes (see `compare_multisets`); None if a side failed."""
    if not (original.ok and mutated.ok):
        return None
    return compare_multisets(original.rows, mutated.rows, original.column_count, mutated.column_count)


def oracle(original: Outcome, mutated: Outcome, is_upper: bool) -> str | None:
    """`holds` when PINOLO's Check passes; `incomparable` when neither result contains the other (CMP 2);
    `violated` when one contains the other the wrong way round; None when a side did not run."""
    cmp = compare(original, mutated)
    if cmp is None:
        return None
    if expectation_holds(cmp, is_upper):
        return "holds"
    return "incomparable" if cmp == 2 else "violated"


def compare_rows(original: Sequence[Sequence[Cell]], mutated: Sequence[Sequence[Cell]]) -> int:
    """CMP on two results given as rows of cells (the column count is the first row's width)."""
    return compare_multisets(Counter(map(row_string, original)), Counter(map(row_string, mutated)),
                             len(original[0]) if original else None, len(mutated[0]) if mutated else None)


def check_rows(original: Sequence[Sequence[Cell]], mutated: Sequence[Sequence[Cell]], is_upper: bool) -> bool:
    """PINOLO's Check on two results given as rows of cells: True when they agree with the polarity."""
    return expectation_holds(compare_rows(original, mutated), is_upper)
