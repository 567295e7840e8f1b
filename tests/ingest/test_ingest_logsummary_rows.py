"""The fast reading of a bug .log counts a result's rows only when they are numbered 0..n-1 in order, each
"row N: " at a line start; anything else (a gap, a leading zero, a row without the space, a digit the strict
parser reads differently) is left to `parse_bug_log`, and the answer is always the strict one."""

from __future__ import annotations

import pytest

from ingest.logsummary import _fast, _from_log, summarize
from mutations.formats import FormatError, parse_bug_log

RULE = "*" * 50


def _log(rows: list[str]) -> str:
    body = "".join(f"{row}\n" for row in rows)
    return (f"{RULE}\n[MutationName] FixMOn1U\n{RULE}\n[IsUpper] false\n{RULE}\n[OriginalResult]\n"
            f"ColumnName(ColumnType)s:  f1(BIGINT) f2(VARCHAR)\n{body}1.5ms\n{RULE}\n[MutatedResult]\n"
            f"ColumnName(ColumnType)s:  f1(BIGINT) f2(VARCHAR)\nrow 0: 1 a\n850µs\n{RULE}\n\n"
            "-- OriginalSql\nSELECT 1;\n-- MutatedSql\nSELECT 2;\n")


def _strict(text: str):
    try:
        return _from_log(parse_bug_log(text))
    except FormatError as error:
        return ("error", str(error))


@pytest.mark.parametrize("rows, fast, count", [
    ([f"row {index}: {index} x" for index in range(12)], True, 12),  # two-digit numbers
    (["row 0: 1 a"], True, 1),
    (["row 0: 1 a", "\tcontinued", "row 1: 2 b"], True, 2),  # a cell's line break
    (["row 0: 1 a", "row 2: 2 b"], False, None),  # a gap
    (["row 0: 1 a", "row 01: 2 b"], False, None),  # a leading zero
    (["row 0: 1 a", "row 1:b"], False, None),  # no space after the colon
    (["row 0: 1 a", "row 1:"], False, None),  # a row without cells, last line of the block
    (["row 0: 1 a", "row \u0661: 2 b"], False, None),  # ARABIC-INDIC DIGIT ONE: a digit to the regex
    (["row 0: 1 a", "row 1x: 2 b"], True, 1),  # not a row line at all: a continuation
])
def test_rows_are_counted_only_when_numbered_in_order(rows, fast, count):
    text = _log(rows)
    assert (_fast(text) is not None) is fast
    strict = _strict(text)
    if type(strict) is tuple:  # the strict parser refuses it: the same error
        with pytest.raises(FormatError) as caught:
            summarize(text)
        assert ("error", str(caught.value)) == strict
        return
    assert summarize(text) == strict
    if fast:
        assert (summarize(text).original.row_count, summarize(text).mutated.row_count) == (count, 1)
