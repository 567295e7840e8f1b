"""PINOLO's CMP and Check (reference §6) on hand-made outcomes and rows, and the digest's exact definition."""

from __future__ import annotations

import doctest
import hashlib
from collections import Counter

import pytest

import mutations.oracle
from mutations.oracle import (Outcome, check_rows, compare, compare_multisets, compare_rows, expectation_holds, oracle,
                              result_digest, row_string)


def ok(*rows: str, columns: int = 1) -> Outcome:
    return Outcome("ok", row_count=len(rows), column_count=columns, digest=result_digest(rows), rows=Counter(rows))


def test_row_strings_join_cells_with_commas_and_spell_null():
    assert row_string(("1", None, "a,b")) == "1,NULL,a,b"
    assert row_string((b"\x00\xff", "x")) == "\x00\udcff,x"  # binary cells keep their bytes


def test_the_digest_is_sha256_of_the_sorted_row_strings_as_json():
    assert result_digest(["b", "a", "a"]) == hashlib.sha256(b'["a", "a", "b"]').hexdigest()
    assert result_digest(["a", "b", "a"]) == result_digest(["b", "a", "a"])  # a multiset: order does not matter
    assert result_digest(["a"]) != result_digest(["a", "a"])  # …but multiplicity does


@pytest.mark.parametrize(
    ("original", "mutated", "cmp"),
    [
        (ok(), ok(), 0),
        (ok(), ok("1"), -1),  # only the original empty: mutated contains original
        (ok("1"), ok(), 1),
        (ok("1", "2"), ok("2", "1"), 0),
        (ok("1"), ok("1", "2"), -1),
        (ok("1", "1"), ok("1"), 1),  # multisets: {1,1} contains {1}
        (ok("1"), ok("2"), 2),
        (ok("1", columns=1), ok("1,1", columns=2), 2),  # column counts differ
        (ok(columns=1), ok(columns=2), 0),  # both empty: equal, whatever the columns
    ],
)
def test_cmp(original, mutated, cmp):
    assert compare(original, mutated) == cmp


@pytest.mark.parametrize(
    ("cmp_sides", "is_upper", "expected"),
    [
        ((ok("1"), ok("1", "2")), True, "holds"),  # upper: original ⊆ mutated expected
        ((ok("1"), ok("1", "2")), False, "violated"),
        ((ok("1", "2"), ok("1")), False, "holds"),  # lower: mutated ⊆ original expected
        ((ok("1", "2"), ok("1")), True, "violated"),
        ((ok("1"), ok("1")), True, "holds"),
        ((ok("1"), ok("1")), False, "holds"),
        ((ok("1"), ok("2")), True, "incomparable"),
        ((ok("1"), ok("2")), False, "incomparable"),
    ],
)
def test_check_follows_polarity(cmp_sides, is_upper, expected):
    assert oracle(*cmp_sides, is_upper) == expected


def test_no_oracle_when_a_side_did_not_run():
    failed = Outcome("error", error_code=1305, error="FUNCTION x does not exist")
    assert compare(ok("1"), failed) is None
    assert oracle(failed, ok("1"), True) is None


def test_cmp_and_check_on_rows_of_cells():
    """The simulator's form: results as rows of cells, the column count read off the first row."""
    a, b, c = ["1", "x"], ["2", "y"], ["3", "z"]
    assert compare_rows([], []) == 0
    assert compare_rows([], [a]) == -1 and compare_rows([a], []) == 1
    assert compare_rows([a, b], [b, a]) == 0
    assert compare_rows([a], [a, b]) == -1 and compare_rows([a, b], [a]) == 1
    assert compare_rows([a, b], [a, c]) == 2
    assert compare_rows([a], [["1", "x", "0"]]) == 2  # one more column
    assert compare_rows([["1,x"]], [a]) == 2  # the same row string, but not the same columns
    assert compare_rows([[None, "x"]], [["NULL", "x"], b]) == -1  # NULL is spelled NULL, as PINOLO scans it
    assert check_rows([a], [a, b], True) and not check_rows([a], [a, b], False)
    assert check_rows([a, b], [a], False) and not check_rows([a, b], [a], True)
    assert not check_rows([a, b], [a, c], True) and not check_rows([a, b], [a, c], False)


def test_outcomes_and_rows_agree():
    """Validation's outcomes and the simulator's rows are one oracle: the same results give the same CMP."""
    cases = [((), ()), ((), ("1",)), (("1", "2"), ("2",)), (("1", "1"), ("1",)), (("1",), ("2",))]
    for original, mutated in cases:
        expected = compare_rows([[cell] for cell in original], [[cell] for cell in mutated])
        assert compare(ok(*original), ok(*mutated)) == expected
        assert compare_multisets(Counter(original), Counter(mutated), 1, 1) == expected
    assert [expectation_holds(cmp, is_upper) for cmp in (0, -1, 1, 2) for is_upper in (True, False)] == [
        True, True, True, False, False, True, False, False]


def test_module_docstring_example_runs():
    failures, tried = doctest.testmod(mutations.oracle)
    assert (failures, tried) == (0, 1)
