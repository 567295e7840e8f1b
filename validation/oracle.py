"""One statement's outcome, its result digest, and PINOLO's oracle on two outcomes (reference §6).

PINOLO scans every cell as the server's text (SQL NULL as the string `NULL`), joins a row's cells with `,`
and compares the two results as multisets of those row strings. We keep the same row strings, so a pair
that PINOLO reported compares here exactly as it did there; the digest is a stable name for the multiset.
"""

from __future__ import annotations

import hashlib
from json.encoder import encode_basestring_ascii
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "Outcome",
    "compare",
    "oracle",
    "result_digest",
    "row_string",
]


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


def row_string(row: Sequence[str | bytes | None]) -> str:
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


def compare(original: Outcome, mutated: Outcome) -> int | None:
    """PINOLO's CMP: 0 equal, -1 original ⊂ mutated, +1 mutated ⊂ original, 2 neither; None if a side failed."""
    if not (original.ok and mutated.ok):
        return None
    if original.row_count == 0 or mutated.row_count == 0:
        if original.row_count == mutated.row_count:
            return 0
        return -1 if original.row_count == 0 else 1
    if original.column_count != mutated.column_count:
        return 2
    if original.digest == mutated.digest:
        return 0
    if original.rows <= mutated.rows:
        return -1
    if mutated.rows <= original.rows:
        return 1
    return 2


def oracle(original: Outcome, mutated: Outcome, is_upper: bool) -> str | None:
    """`holds` when PINOLO's Check passes; `incomparable` when neither result contains the other (CMP 2);
    `violated` when one contains the other the wrong way round; None when a side did not run."""
    cmp = compare(original, mutated)
    if cmp is None:
        return None
    if cmp == 0 or (is_upper and cmp == -1) or (not is_upper and cmp == 1):
        return "holds"
    return "incomparable" if cmp == 2 else "violated"
