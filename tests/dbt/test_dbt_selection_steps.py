"""The dataset selection's intermediate steps (int_candidates_scoped → judged → interleaved → topped_up → split),
each on its own, with exact rows, over a small raw schema (a real `dbt build`).

The fixture (source root /data/pinolo; target T = mariadb-11; seed 5, ratios 0.5/0.25/0.25):

* FixMDistinctL: A (mysql, maystable + sqlsim), B (mysql, raw only, executable on T), C (mariadb), D (mysql,
  not conforming), E (mariadb, its original longer than max_length 60), H (mysql, no verdict: not checked).
* FixMCmpOpU: F (mysql, executable on another target only), G (mariadb).
* Synthetic FixMDistinctL pairs for dataset `steps` (no verdict): S1 on mariadb from G's original, S2 on
  mysql from F's original; SX for dataset `other` (which has no config: it never appears).
* Dataset `steps` (sqlsim form, top-up, target T): FixMDistinctL quota 4 and FixMCmpOpU quota 1, both DBMSs.
* Dataset `strict` (raw form, mysql, target T, executable required, every pair): FixMDistinctL.
"""

from __future__ import annotations

import hashlib

import pytest
from dbt_fixtures import (
    q, sim, distinct, cmp_u,
    Raw,
    Report,
    Synthetic,
    config,
    create_raw_schema,
    dbt_build,
    expected_split,
    md5_hex,
    query,
    validation,
)

from mutations.fingerprint import fingerprint

DISTINCT, CMP_U = "FixMDistinctL", "FixMCmpOpU"
TARGET, OTHER_TARGET = "mariadb-11", "mysql-8"
SEED, RATIOS = 5, (0.5, 0.25, 0.25)
BOTH = ["mysql", "mariadb"]


def build_raw() -> tuple[Raw, dict]:
    raw = Raw()
    it: dict = {}
    it["A"] = raw.add(Report("output1", "mysql", 0, 0, 1, DISTINCT, q("a", 1), distinct(q("a", 1)),
                             stability="maystable", sqlsim=(sim("a", 1), distinct(sim("a", 1)))))
    it["B"] = raw.add(Report("output1", "mysql", 0, 1, 2, DISTINCT, q("b", 1), distinct(q("b", 1))))
    it["C"] = raw.add(Report("output1", "mariadb", 0, 0, 1, DISTINCT, q("c", 1), distinct(q("c", 1))))
    it["D"] = raw.add(Report("output1", "mysql", 0, 2, 3, DISTINCT, q("d", 1), distinct(q("d", 1)).replace(">", "<")),
                      conforms=False, reason="two edits where FixMDistinctL makes one")
    it["E"] = raw.add(Report("output1", "mariadb", 0, 1, 2, DISTINCT, q("e" * 40, 1), distinct(q("e" * 40, 1))))
    it["H"] = Report("output1", "mysql", 0, 3, 4, DISTINCT, q("h", 1), distinct(q("h", 1)))
    raw.reports.append(it["H"])  # no verdict
    it["F"] = raw.add(Report("output1", "mysql", 1, 0, 1, CMP_U, q("f", 1), cmp_u(q("f", 1)), is_upper=True))
    it["G"] = raw.add(Report("output1", "mariadb", 1, 0, 1, CMP_U, q("g", 1), cmp_u(q("g", 1)), is_upper=True))
    it["S1"] = Synthetic("steps", "mariadb", DISTINCT, it["G"].original, distinct(it["G"].original), None, it["G"])
    it["S2"] = Synthetic("steps", "mysql", DISTINCT, it["F"].original, distinct(it["F"].original), None, it["F"])
    it["SX"] = Synthetic("other", "mysql", DISTINCT, q("x", 1), distinct(q("x", 1)), None, it["F"])
    raw.synthetic += [it["S1"], it["S2"], it["SX"]]
    raw.configs += [
        config("steps", DISTINCT, BOTH, 4, seed=SEED, max_length=60, ratios=RATIOS, top_up=True, target=TARGET),
        config("steps", CMP_U, BOTH, 1, seed=SEED, max_length=60, ratios=RATIOS, top_up=True, target=TARGET),
        config("strict", DISTINCT, ["mysql"], None, seed=SEED, form="raw", ratios=RATIOS, target=TARGET,
               require_executable=True),
    ]
    raw.validations += [
        validation(it["B"].pair_hash, "raw", TARGET, 1, 0),
        validation(it["B"].pair_hash, "raw", TARGET, 1, 1),
        validation(it["F"].pair_hash, "raw", OTHER_TARGET, 2, 0),
    ]
    return raw, it


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("dbt-selection-steps")
    warehouse = work / "warehouse.duckdb"
    create_raw_schema(warehouse)
    raw, it = build_raw()
    raw.write(warehouse)
    dbt_build(warehouse, work)
    return warehouse, it, {pair_id(it, name): name for name in it}


def pair_id(it: dict, name: str) -> str:
    """The pair_id dbt gives the fixture's pair: without a verdict (H), its pair_hash."""
    return it[name].pair_hash if name == "H" else it[name].pair_id


def step(built, model: str, columns: str) -> dict[tuple[str, str], tuple]:
    """{(dataset, fixture name): (columns…)} of one intermediate model."""
    warehouse, _, names = built
    rows = query(warehouse, f"select dataset_name, pair_id, {columns} from intermediate.{model}")
    return {(row[0], names[row[1]]): row[2:] for row in rows}


def dbms_first(strategy: str) -> str:
    """The DBMS whose turn comes first in the strategy's round robin: the smaller md5(seed:strategy:dbms)."""
    return min(BOTH, key=lambda dbms: (md5_hex(f"{SEED}:{strategy}:{dbms}"), dbms))


def test_scoped_takes_each_dataset_s_strategies_dbms_and_own_synthetic_pairs_with_their_content(built):
    _, it, _ = built
    got = step(built, "int_candidates_scoped",
               "strategy, dbms, is_synthetic, content_form, user_length, assistant_length,"
               " content_original_fingerprint, seed, train_cut, validation_cut")

    def row(name: str, form: str) -> tuple:
        item = it[name]
        original, mutated = item.sqlsim if form == "sqlsim" else (item.original, item.mutated)
        # a pair without a verdict (H) is split on the sha256 of its exact original
        original_fingerprint = hashlib.sha256(original.encode()).hexdigest() if name == "H" else fingerprint(original)
        return (item.strategy, item.dbms, name.startswith("S"), form, len(original), len(mutated),
                original_fingerprint, SEED, 0.5, 0.75)

    steps = {("steps", n): row(n, "sqlsim" if n == "A" else "raw") for n in "ABCDEHFG"}
    steps |= {("steps", n): row(n, "raw") for n in ("S1", "S2")}
    strict = {("strict", n): row(n, "raw") for n in "ABDH"}
    assert got == steps | strict  # SX belongs to `other`, C and E are mariadb's, F and G another strategy's


def test_judged_gives_the_validation_status_on_the_target_and_the_first_failed_rule(built):
    got = step(built, "int_candidates_judged", "validation_status, exclusion_reason, validation_rank")
    assert got == {
        ("steps", "A"): ("not validated", None, 1),
        ("steps", "B"): ("executable", None, 0),
        ("steps", "C"): ("not validated", None, 1),
        ("steps", "D"): ("not validated", "not conforming", 1),
        ("steps", "E"): ("not validated", "too long", 1),
        ("steps", "H"): ("not validated", "not checked", 1),
        ("steps", "F"): ("not validated", None, 1),  # executable, but on another target
        ("steps", "G"): ("not validated", None, 1),
        ("steps", "S1"): ("not validated", None, 1),
        ("steps", "S2"): ("not validated", None, 1),
        ("strict", "A"): ("not validated", "not validated", 1),
        ("strict", "B"): ("executable", None, 0),
        ("strict", "D"): ("not validated", "not conforming", 1),
        ("strict", "H"): ("not validated", "not checked", 1),
    }
    keys = step(built, "int_candidates_judged", "strategy, dbms, tiebreak, dbms_tiebreak")
    _, it, _ = built
    assert all(tiebreak == md5_hex(f"{SEED}:{pair_id(it, name)}")
               and dbms_tiebreak == md5_hex(f"{SEED}:{strategy}:{dbms}")
               for (_, name), (strategy, dbms, tiebreak, dbms_tiebreak) in keys.items())


def expected_real_ranks() -> dict[tuple[str, str], tuple]:
    """dbms_rank, selection_rank, is_selected of the real pairs; NULL ranks and not selected for the rest."""
    # FixMDistinctL, quota 4: mysql ranks B (executable) before the shorter A; mariadb has only C. The DBMSs
    # take turns: rank 1 of the first DBMS, rank 1 of the other, then A.
    b_turn, c_turn = (1, 2) if dbms_first(DISTINCT) == "mysql" else (2, 1)
    # FixMCmpOpU, quota 1: F and G are each first on their DBMS; the first DBMS's pair is taken.
    f_turn, g_turn = (1, 2) if dbms_first(CMP_U) == "mysql" else (2, 1)
    unranked = (None, None, False)
    return {
        ("steps", "A"): (2, 3, True),
        ("steps", "B"): (1, b_turn, True),
        ("steps", "C"): (1, c_turn, True),
        ("steps", "D"): unranked, ("steps", "E"): unranked, ("steps", "H"): unranked,
        ("steps", "F"): (1, f_turn, f_turn == 1),
        ("steps", "G"): (1, g_turn, g_turn == 1),
        ("steps", "S1"): unranked, ("steps", "S2"): unranked,
        ("strict", "A"): unranked,
        ("strict", "B"): (1, 1, True),  # no quota: every eligible pair
        ("strict", "D"): unranked, ("strict", "H"): unranked,
    }


def test_interleaved_ranks_the_eligible_real_pairs_round_robin_within_the_quota(built):
    assert step(built, "int_candidates_interleaved", "dbms_rank, selection_rank, is_selected") == \
        expected_real_ranks()


def test_topped_up_fills_only_the_shortfall_evening_out_the_dbms(built):
    # 3 real FixMDistinctL pairs for a quota of 4: one synthetic. mysql already has 2 real pairs selected and
    # mariadb 1, so S1 (mariadb) ranks 1 + 1 = 2 on its DBMS and S2 (mysql) 2 + 1 = 3; in the round robin
    # they follow the 3 real pairs: S1 4th (taken), S2 5th (over the quota).
    expected = expected_real_ranks() | {("steps", "S1"): (2, 4, True), ("steps", "S2"): (3, 5, False)}
    assert step(built, "int_candidates_topped_up", "dbms_rank, selection_rank, is_selected") == expected


def test_split_draws_each_selected_original_and_numbers_each_split(built):
    _, it, _ = built
    got = step(built, "int_candidates_split", "split, position")
    fingerprints = {"A": fingerprint(it["A"].sqlsim[0])}
    fingerprints |= {n: fingerprint(it[n].original) for n in ("B", "C", "F", "G", "S1")}
    cmp_taken = "F" if dbms_first(CMP_U) == "mysql" else "G"
    selected = {("steps", n) for n in ("A", "B", "C", "S1", cmp_taken)} | {("strict", "B")}
    splits = {key: expected_split(SEED, fingerprints[key[1]], RATIOS) for key in selected}
    expected = {key: (None, None) for key in got}
    for dataset in ("steps", "strict"):
        for split in ("train", "validation", "test"):
            members = sorted((md5_hex(f"{SEED}:position:{pair_id(it, name)}"), pair_id(it, name), name)
                             for (d, name), s in splits.items() if d == dataset and s == split)
            expected |= {(dataset, name): (split, position) for position, (_, _, name) in enumerate(members, 1)}
    assert got == expected
    assert sum(1 for split, _ in got.values() if split) == 6


def test_the_mart_is_the_last_step_s_rows(built):
    warehouse, _, _ = built
    columns = ("dataset_name, strategy, dbms, pair_id, pair_hash, is_synthetic, content_form, user_length,"
               " assistant_length, content_conforms, content_original_fingerprint, validation_status,"
               " exclusion_reason, dbms_rank, selection_rank, is_selected, split_draw, split, position, quota, seed")
    mart = query(warehouse, f"select {columns} from marts.dataset_candidates order by all")
    last = query(warehouse, f"select {columns} from intermediate.int_candidates_split order by all")
    assert len(mart) == 14
    assert mart == last
