"""The verdict step: once per distinct pair, only new pairs, same results whatever the number of processes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from ingest_helpers import rows, scalar

from ingest.errors import WarehouseError
from ingest.loader import load
from ingest.verdicts import check_pairs, engine_version
from mutations import check
from mutations.fingerprint import fingerprint, pair_fingerprint
from simulator.generator import generate

REPO = Path(__file__).resolve().parents[2]


def test_every_distinct_pair_is_judged_once_and_a_rerun_judges_nothing(faulty_tree, tmp_path):
    root, _, _ = faulty_tree
    warehouse = tmp_path / "w.duckdb"
    load(root, warehouse, quiet=True)
    distinct = scalar(warehouse, "SELECT count(DISTINCT pair_hash) FROM raw.bug_reports")
    reports = scalar(warehouse, "SELECT count(*) FROM raw.bug_reports")
    assert distinct < reports  # maystable/unstable copies and the duplicates share pairs
    first = check_pairs(warehouse, jobs=2, quiet=True)
    assert first.pairs == distinct == scalar(warehouse, "SELECT count(*) FROM raw.mutation_verdicts")
    assert rows(warehouse, "SELECT count(*) FROM raw.bug_reports WHERE pair_hash NOT IN "
                           "(SELECT pair_hash FROM raw.mutation_verdicts)") == [(0,)]
    # generated pairs are engine pairs: all conform, with the reported polarity (the non-SELECT ones were
    # quarantined at ingest)
    assert first.conforming == distinct
    assert scalar(warehouse, "SELECT count(*) FROM raw.bug_reports b JOIN raw.mutation_verdicts v USING (pair_hash) "
                             "WHERE v.is_upper IS DISTINCT FROM b.is_upper OR v.strategy <> b.mutation_name") == 0
    assert sum(first.by_strategy.values()) == distinct
    for pair_hash, strategy, original, mutated, conforms, reason, ofp, pfp, version in rows(
            warehouse, "SELECT pair_hash, strategy, original_sql, mutated_sql, conforms, reason, original_fingerprint, "
                       "pair_fingerprint, engine_version FROM raw.mutation_verdicts ORDER BY pair_hash LIMIT 40"):
        verdict = check(original, mutated, strategy)
        assert (conforms, reason) == (verdict.conforms, verdict.reason)
        assert (ofp, pfp) == (fingerprint(original), pair_fingerprint(strategy, original, mutated))
        assert version == engine_version()
    assert re.fullmatch(r"mutations \S+\+[0-9a-f]{12}", engine_version())
    before = rows(warehouse, "SELECT * FROM raw.mutation_verdicts ORDER BY pair_hash")
    second = check_pairs(warehouse, jobs=2, quiet=True)
    assert second.pairs == 0 and second.total_verdicts == distinct
    assert rows(warehouse, "SELECT * FROM raw.mutation_verdicts ORDER BY pair_hash") == before
    assert "nothing new to judge" in second.describe()


def test_only_new_pairs_are_judged_after_another_load(clean_tree, tmp_path):
    root, _ = clean_tree
    warehouse = tmp_path / "w.duckdb"
    load(root, warehouse, quiet=True)
    first = check_pairs(warehouse, jobs=1, quiet=True)
    other = tmp_path / "other"
    generate(other, dbms=("mariadb",), tasks=1, queries=10, seed=99, quiet=True)
    load(other, warehouse, quiet=True)
    new = scalar(warehouse, "SELECT count(DISTINCT pair_hash) FROM raw.bug_reports WHERE pair_hash NOT IN "
                            "(SELECT pair_hash FROM raw.mutation_verdicts)")
    assert new > 0
    second = check_pairs(warehouse, jobs=2, quiet=True)
    assert second.pairs == new
    assert second.total_verdicts == first.pairs + new


def test_one_process_and_two_give_the_same_verdicts(clean_tree, tmp_path):
    root, _ = clean_tree
    results = []
    for jobs in (1, 2):
        warehouse = tmp_path / f"w{jobs}.duckdb"
        load(root, warehouse, quiet=True)
        check_pairs(warehouse, jobs=jobs, quiet=True)
        results.append(rows(warehouse, "SELECT pair_hash, strategy, conforms, is_upper, reason, original_fingerprint, "
                                       "pair_fingerprint FROM raw.mutation_verdicts ORDER BY 1"))
    assert results[0] == results[1] and results[0]


def test_check_needs_a_warehouse(tmp_path):
    with pytest.raises(WarehouseError, match="no warehouse at"):
        check_pairs(tmp_path / "missing.duckdb")
    result = subprocess.run([sys.executable, "-m", "ingest", "check", "--warehouse", str(tmp_path / "missing.duckdb")],
                            cwd=REPO, capture_output=True, text=True, check=False)
    assert (result.returncode, result.stderr) == (
        2, f"error: no warehouse at {tmp_path / 'missing.duckdb'}: run `pinoloft ingest` first\n")
    assert not (tmp_path / "missing.duckdb").exists()
