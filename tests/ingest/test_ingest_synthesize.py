"""Synthetic top-ups: exact shortfalls, deterministic for a seed, conforming, and marked as synthetic."""

from __future__ import annotations

import pytest
from ingest_helpers import rows, scalar

from ingest.datasets import load_datasets
from ingest.errors import StepOrderError
from ingest.loader import load
from ingest.synthesize import synthesize
from ingest.verdicts import check_pairs
from mutations import check
from mutations.fingerprint import pair_hash
from mutations.sqlsim import simplify

CONFIG = """
dbms: [mysql, mariadb]
strategies: [FixMDistinctL, FixMCmpOpU, FixMWhere0L, FixMHaving0L, FixMOn0L, FixMInNullU]
quota: 10
quotas: {{FixMDistinctL: all}}
max_length: 3000
form: sqlsim
seed: {seed}
top_up: {top_up}
"""


@pytest.fixture
def warehouse(faulty_tree, tmp_path):
    root, _, _ = faulty_tree
    path = tmp_path / "w.duckdb"
    load(root, path, quiet=True)
    return path


def _configure(tmp_path, warehouse, seed=42, top_up="true"):
    folder = tmp_path / "datasets"
    folder.mkdir(exist_ok=True)
    (folder / "topup.yml").write_text(CONFIG.format(seed=seed, top_up=top_up))
    load_datasets(warehouse, folder)


def _synthetic(warehouse):
    return rows(warehouse, "SELECT dataset_name, pair_hash, dbms, strategy, is_upper, original_sql, mutated_sql, "
                           "original_sqlsim, mutated_sqlsim, source_pair_hash, source_relative_path "
                           "FROM raw.synthetic_pairs ORDER BY strategy, pair_hash")


def test_synthesize_needs_verdicts_first(warehouse, tmp_path):
    _configure(tmp_path, warehouse)
    with pytest.raises(StepOrderError, match=r"pair\(s\) of raw.bug_reports have no verdict yet: run "
                                             r"`pinoloft check` before the top-ups"):
        synthesize(warehouse, quiet=True)


def test_shortfalls_are_covered_exactly_and_marked(warehouse, tmp_path):
    _configure(tmp_path, warehouse)
    check_pairs(warehouse, jobs=2, quiet=True)
    real_cmp = scalar(warehouse, "SELECT count(DISTINCT v.pair_fingerprint) FROM raw.bug_reports b JOIN "
                                 "raw.mutation_verdicts v USING (pair_hash) WHERE b.folder = 'sqlsim' AND "
                                 "b.mutation_name = 'FixMCmpOpU' AND v.conforms")
    assert 0 < real_cmp < 10
    report = synthesize(warehouse, quiet=True)
    assert [(s.strategy, s.quota, s.real, s.derived, s.missing) for s in report.shortfalls] == [
        ("FixMCmpOpU", 10, real_cmp, 10 - real_cmp, 0), ("FixMHaving0L", 10, 0, 10, 0),
        ("FixMInNullU", 10, 0, 10, 0), ("FixMOn0L", 10, 0, 10, 0), ("FixMWhere0L", 10, 0, 10, 0)]
    assert report.derived == 50 - real_cmp
    got = _synthetic(warehouse)
    assert len(got) == report.derived
    assert dict(rows(warehouse, "SELECT strategy, count(*) FROM raw.synthetic_pairs GROUP BY 1")) == {
        "FixMCmpOpU": 10 - real_cmp, "FixMHaving0L": 10, "FixMInNullU": 10, "FixMOn0L": 10, "FixMWhere0L": 10}
    real_hashes = {h for (h,) in rows(warehouse, "SELECT pair_hash FROM raw.bug_reports")}
    for name, hash_, dbms, strategy, is_upper, original, mutated, original_sim, mutated_sim, source, path in got:
        assert name == "topup" and dbms in ("mysql", "mariadb")
        assert hash_ == pair_hash(strategy, original, mutated) and hash_ not in real_hashes  # never mixed in
        verdict = check(original, mutated, strategy)
        assert verdict.conforms and verdict.is_upper == is_upper
        assert (original_sim, mutated_sim) == simplify(original, mutated)
        assert check(original_sim, mutated_sim, strategy).conforms
        assert rows(warehouse, "SELECT original_sql, relative_path, folder FROM raw.bug_reports WHERE pair_hash = ? "
                               "AND relative_path = ?", [source, path]) == [(original, path, "bugs")]
    # distinct originals per strategy, none of them with a real pair of that strategy
    for strategy in ("FixMCmpOpU", "FixMHaving0L", "FixMOn0L"):
        originals = [g[5] for g in got if g[3] == strategy]
        assert len(set(originals)) == len(originals)
        real = {o for (o,) in rows(warehouse, "SELECT original_sql FROM raw.bug_reports WHERE mutation_name = ?",
                                   [strategy])}
        assert not real & set(originals)
    # both forms of every synthetic pair have a verdict, so a later check has nothing to do
    assert check_pairs(warehouse, jobs=1, quiet=True).pairs == 0
    assert scalar(warehouse, "SELECT count(*) FROM raw.synthetic_pairs s JOIN raw.mutation_verdicts v "
                             "USING (pair_hash) WHERE v.conforms") == len(got)


def test_same_seed_same_pairs_other_seed_other_pairs(warehouse, tmp_path):
    _configure(tmp_path, warehouse, seed=42)
    check_pairs(warehouse, jobs=2, quiet=True)
    synthesize(warehouse, quiet=True)
    first = _synthetic(warehouse)
    synthesize(warehouse, quiet=True)
    assert _synthetic(warehouse) == first  # replaced, not appended
    _configure(tmp_path, warehouse, seed=7)
    synthesize(warehouse, quiet=True)
    other = _synthetic(warehouse)
    assert len(other) == len(first) and other != first


def test_datasets_without_top_up_lose_their_rows(warehouse, tmp_path):
    _configure(tmp_path, warehouse)
    check_pairs(warehouse, jobs=2, quiet=True)
    synthesize(warehouse, quiet=True)
    assert scalar(warehouse, "SELECT count(*) FROM raw.synthetic_pairs") > 0
    _configure(tmp_path, warehouse, top_up="false")
    report = synthesize(warehouse, quiet=True)
    assert scalar(warehouse, "SELECT count(*) FROM raw.synthetic_pairs") == 0
    assert report.describe() == "synthesize: no dataset asks for top_up; raw.synthetic_pairs holds no rows"
