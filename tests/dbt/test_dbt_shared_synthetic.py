"""Two top-up datasets that derive the same synthetic pair (issue 12): raw.synthetic_pairs' key is
(dataset_name, pair_hash), so the same pair_hash appears once per dataset.

The fixture of test_dbt_transform (dataset `demo`, top-up) is built twice: alone, and beside a second
top-up dataset `small` (FixMWhere0L, quota 2) whose synthetic rows are
* S2 and S3 again (the same pair_hash as demo's, derived from the same source reports);
* S1v, a variant of demo's S1 that differs only in whitespace (same pair fingerprint, so the same pair_id,
  but another pair_hash), one character shorter, so that a representative chosen over both datasets would
  be small's and would change demo's example.
dbt build must pass, and demo's candidates and examples must be exactly those of the single-dataset run.
"""

from __future__ import annotations

import pytest
from dbt_fixtures import Synthetic, config, create_raw_schema, dbt_build, query
from test_dbt_transform import DEMO_SEED, WHERE_0L, build_raw, q

S1V_ORIGINAL = q("a", 5).replace(" WHERE (", " WHERE(")  # whitespace only: the same fingerprint


def build(work, with_small: bool):
    warehouse = work / "warehouse.duckdb"
    create_raw_schema(warehouse)
    raw, items = build_raw()
    if with_small:
        s1, s2, s3 = items["S1"], items["S2"], items["S3"]
        s1v = Synthetic("small", "mysql", WHERE_0L, S1V_ORIGINAL, s1.mutated, None, items["A1"], checked=True)
        raw.verdict(WHERE_0L, s1v.original, s1v.mutated, True)
        copies = [Synthetic("small", s.dbms, s.strategy, s.original, s.mutated, s.sqlsim, s.source, s.is_upper,
                            s.checked) for s in (s2, s3)]
        raw.synthetic += [s1v, *copies]
        raw.configs.append(config("small", WHERE_0L, ["mysql", "mariadb"], 2, seed=DEMO_SEED, max_length=200,
                                  top_up=True))
        items = {**items, "S1v": s1v}
    raw.write(warehouse)
    dbt_build(warehouse, work)
    return warehouse, items


@pytest.fixture(scope="module")
def alone(tmp_path_factory):
    return build(tmp_path_factory.mktemp("dbt-demo-alone"), with_small=False)


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    return build(tmp_path_factory.mktemp("dbt-demo-and-small"), with_small=True)


def rows(warehouse, table: str, dataset: str) -> list[tuple]:
    return query(warehouse, f"select * from marts.{table} where dataset_name = ? order by all", [dataset])


def test_synthetic_pairs_are_keyed_per_dataset(shared):
    warehouse, it = shared
    assert query(warehouse, "select dataset_name, count(*), count(distinct pair_hash) "
                            "from staging.stg_pinoloft__synthetic_pairs group by 1 order by 1") == [
        ("demo", 6, 6), ("other", 1, 1), ("small", 3, 3)]
    # S1 (with S1v), S2 and S3 are one pair each in marts.pairs, derived for both datasets
    assert query(warehouse, "select pair_id, synthetic_datasets from marts.pairs where pair_id in (?, ?, ?) "
                            "order by pair_id", [it["S1"].pair_id, it["S2"].pair_id, it["S3"].pair_id]) == sorted([
        (it["S1"].pair_id, ["demo", "small"]),
        (it["S2"].pair_id, ["demo", "small"]),
        (it["S3"].pair_id, ["demo", "small"]),
    ])


def test_demo_selection_is_that_of_the_single_dataset_run(alone, shared):
    for table in ("dataset_candidates", "dataset_examples", "dataset_coverage"):
        assert rows(shared[0], table, "demo") == rows(alone[0], table, "demo"), table
    # 8 examples, 3 of them synthetic (S5, S1, S2; S7 repeats the real B and folds into it)
    assert query(shared[0], "select count(*), count(*) filter (where is_synthetic) from marts.dataset_examples "
                            "where dataset_name = 'demo'") == [(8, 3)]


def test_small_draws_only_its_own_synthetic_pairs_once_each(shared):
    warehouse, it = shared
    got = query(warehouse, "select strategy, dbms, pair_id, pair_hash, is_synthetic, content_form, user_content "
                           "from marts.dataset_examples where dataset_name = 'small' order by dbms")
    assert got == [
        (WHERE_0L, "mariadb", it["S2"].pair_id, it["S2"].pair_hash, True, "sqlsim", it["S2"].sqlsim[0]),
        # small's own S1v (raw form: it has no sqlsim texts), not demo's S1, nor S3 (longer)
        (WHERE_0L, "mysql", it["S1"].pair_id, it["S1v"].pair_hash, True, "raw", S1V_ORIGINAL),
    ]
    assert query(warehouse, "select dataset_name, count(*), count(distinct pair_id), "
                            "count(*) filter (where is_synthetic) from marts.dataset_candidates "
                            "where dataset_name in ('demo', 'small') group by 1 order by 1") == [
        ("demo", 15, 15, 5), ("small", 3, 3, 3)]
    assert query(warehouse, "select dataset_name, sum(available_synthetic), sum(selected), sum(selected_synthetic) "
                            "from marts.dataset_coverage where dataset_name in ('demo', 'small') "
                            "group by 1 order by 1") == [("demo", 5, 8, 3), ("small", 3, 2, 2)]
    # demo still gets its own S1 text
    assert query(warehouse, "select pair_hash from marts.dataset_examples "
                            "where dataset_name = 'demo' and pair_id = ?", [it["S1"].pair_id]) == [
        (it["S1"].pair_hash,)]
