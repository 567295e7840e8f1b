"""Validation logs (issue 4) through dbt: the per-pair summary, the three validation marts, and datasets that
require executability on their target and form. Exact values throughout.

The fixture (mysql unless said otherwise; targets T1 = mariadb-11 and T2 = mysql-8; run 1 is an older run on
T1, run 2 the current one on T1, run 3 one on T2; three repeats unless said otherwise):

* P1 FixMDistinctL with sqlsim: raw on T1 all ok, same digests, holds -> executable / holds; sqlsim on T1 the
  mutated side fails with a syntax error -> not executable.
* P2 FixMDistinctL: the original's digest differs in the last repeat -> flaky (oracle still holds).
* P3 FixMDistinctL: on T1 the mutated side fails with 1305 format_bytes (known) -> not executable; on T2 all
  ok -> executable.
* P6 FixMDistinctL: both sides fail with the same 1305 class -> failing_side both.
* P8 FixMDistinctL with sqlsim: sqlsim on T1 executable; never validated in raw form.
* P4 FixMCmpOpU: run 1 (two repeats) the original fails with 1146; run 2 all ok, violated: only run 2 counts.
* P7 FixMCmpOpU: the oracle holds, then is incomparable, then holds -> mixed, flaky.
* P5 FixMCmpOpU on mariadb: the original times out in repeat 0, fails with 1305 in repeat 1, runs in repeat 2
  -> status timeout (the first failure), class 1305 (the smallest), failing_side original.
* S1 a synthetic FixMWhere0L pair from P1's original: raw on T1 executable.
* A log whose pair_hash no pair carries (ignored by the marts).
"""

from __future__ import annotations

import pytest
from dbt_fixtures import (
    q, sim, distinct, cmp_u,
    Raw,
    Report,
    Synthetic,
    config,
    create_raw_schema,
    dbt_build,
    mart_snapshot,
    query,
    read_golden,
    validation,
)

DISTINCT, CMP_U, WHERE_0L = "FixMDistinctL", "FixMCmpOpU", "FixMWhere0L"
T1, T2 = "mariadb-11", "mysql-8"
FORMAT_BYTES = "1305 FUNCTION format_bytes does not exist [known: sys schema function, absent from MariaDB]"
SYNTAX = "1064 You have an error in your SQL syntax; check the manual near '…' at line N"
ORPHAN = "0" * 64


def where0(sql: str) -> str:
    return sql.split(" WHERE ")[0] + " WHERE 0"


def build_raw() -> tuple[Raw, dict]:
    raw = Raw()
    p = {}
    p["P1"] = raw.add(Report("output1", "mysql", 0, 0, 1, DISTINCT, q("a", 1), distinct(q("a", 1)),
                             stability="maystable", sqlsim=(sim("a", 1), distinct(sim("a", 1)))))
    p["P2"] = raw.add(Report("output1", "mysql", 0, 1, 2, DISTINCT, q("b", 1), distinct(q("b", 1))))
    p["P3"] = raw.add(Report("output1", "mysql", 0, 2, 3, DISTINCT, q("c", 1), distinct(q("c", 1))))
    p["P6"] = raw.add(Report("output1", "mysql", 0, 3, 4, DISTINCT, q("d", 1), distinct(q("d", 1))))
    p["P8"] = raw.add(Report("output1", "mysql", 0, 4, 5, DISTINCT, q("e", 1), distinct(q("e", 1)),
                             stability="maystable", sqlsim=(sim("e", 1), distinct(sim("e", 1)))))
    p["P4"] = raw.add(Report("output1", "mysql", 1, 0, 1, CMP_U, q("f", 1), cmp_u(q("f", 1)), is_upper=True))
    p["P7"] = raw.add(Report("output1", "mysql", 1, 1, 2, CMP_U, q("g", 1), cmp_u(q("g", 1)), is_upper=True))
    p["P5"] = raw.add(Report("output1", "mariadb", 0, 0, 1, CMP_U, q("h", 1), cmp_u(q("h", 1)), is_upper=True))
    s1 = Synthetic("exec", "mysql", WHERE_0L, q("a", 1), where0(q("a", 1)), (sim("a", 1), where0(sim("a", 1))),
                   p["P1"], checked=True)
    raw.verdict(WHERE_0L, s1.original, s1.mutated, True)
    raw.synthetic.append(s1)
    p["S1"] = s1

    def v(key: str, form: str, target: str, run: int, repeat: int, **kw) -> dict:
        item = p[key]
        return validation(item.pair_hash, form, target, run, repeat, strategy=item.strategy,
                          is_upper=item.is_upper, **kw)

    rows = []
    for i in range(3):
        rows += [
            v("P1", "raw", T1, 2, i),
            v("P1", "sqlsim", T1, 2, i, mutated_status="error", error_code=1064, mutated_error_class=SYNTAX),
            v("P2", "raw", T1, 2, i, original_digest="d9" if i == 2 else "d1"),
            v("P3", "raw", T1, 2, i, mutated_status="error", error_code=1305,
              mutated_error="FUNCTION pinolo_0123456789abcdef.format_bytes does not exist",
              mutated_error_class=FORMAT_BYTES),
            v("P3", "raw", T2, 3, i),
            v("P6", "raw", T1, 2, i, original_status="error", mutated_status="error", error_code=1305,
              original_error="FUNCTION pinolo_1.format_bytes does not exist (original)",
              mutated_error="FUNCTION pinolo_1.format_bytes does not exist (mutated)",
              original_error_class=FORMAT_BYTES, mutated_error_class=FORMAT_BYTES),
            v("P8", "sqlsim", T1, 2, i),
            v("P4", "raw", T1, 2, i, oracle="violated"),
            v("P7", "raw", T1, 2, i, oracle="incomparable" if i == 1 else "holds"),
            v("S1", "raw", T1, 2, i),
        ]
    rows += [
        v("P4", "raw", T1, 1, 0, original_status="error", error_code=1146,
          original_error="Table 'pinolo_1.t1' doesn't exist", original_error_class="1146 Table '…' doesn't exist"),
        v("P4", "raw", T1, 1, 1, original_status="error", error_code=1146,
          original_error="Table 'pinolo_1.t1' doesn't exist", original_error_class="1146 Table '…' doesn't exist"),
        v("P5", "raw", T1, 2, 0, original_status="timeout", original_error="statement timed out after 10 s",
          original_error_class="timeout"),
        v("P5", "raw", T1, 2, 1, original_status="error", error_code=1305,
          original_error="FUNCTION pinolo_2.format_bytes does not exist", original_error_class=FORMAT_BYTES),
        v("P5", "raw", T1, 2, 2),
        validation(ORPHAN, "raw", T1, 2, 0, strategy=DISTINCT, is_upper=False),
    ]
    raw.validations += rows
    raw.invocations += [
        {"validation_run_id": run, "target": target, "server_name": server, "server_version": version,
         "endpoint": "127.0.0.1:3306", "scope": "all", "settings_hash": "settings-hash", "repeats": repeats,
         "statement_timeout_s": 10.0, "row_cap": 100000, "jobs": 2, "started_at": "2026-11-24 10:00:00",
         "finished_at": None if status == "interrupted" else "2026-11-24 10:05:00", "status": status,
         "pair_forms_planned": planned, "pair_forms_skipped": 0, "pair_forms_done": done,
         "statements_executed": 2 * repeats * done, "statements_refused": 0, "message": None}
        for run, target, server, version, repeats, status, planned, done in (
            (1, T1, "mariadb", "MariaDB 11.4", 2, "interrupted", 10, 1),
            (2, T1, "mariadb", "MariaDB 11.4", 3, "finished", 11, 11),
            (3, T2, "mysql", "MySQL 8.0", 3, "finished", 1, 1),
        )
    ]
    raw.configs += [
        config("exec", DISTINCT, ["mysql"], None, seed=3, form="raw", require_executable=True, target=T1),
        config("exec_sqlsim", DISTINCT, ["mysql"], None, seed=3, form="sqlsim", require_executable=True,
               target=T1),
        config("exec_mysql", DISTINCT, ["mysql"], None, seed=3, form="raw", require_executable=True, target=T2),
        config("any_target", DISTINCT, ["mysql"], None, seed=3, form="raw", require_executable=True),
    ]
    return raw, p


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("dbt-validation")
    warehouse = work / "warehouse.duckdb"
    create_raw_schema(warehouse)
    raw, items = build_raw()
    raw.write(warehouse)
    done = dbt_build(warehouse, work)
    assert "ERROR=0" in done.stdout and "WARN=0" in done.stdout
    return warehouse, items


def test_selection_marts_keep_the_rows_of_the_one_model_selection(built):
    """golden/validation.json was recorded from this fixture when the selection was one 379-line mart, before
    its steps became the int_candidates_* models (issue 12): every row, column and type stays."""
    warehouse, _ = built
    assert mart_snapshot(warehouse) == read_golden("validation")


def rows_as_dicts(warehouse, sql: str, params: list | None = None) -> list[dict]:
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute(sql, params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


def test_staging_carries_the_new_columns_and_the_invocations(built):
    warehouse, p = built
    assert query(warehouse, "select strategy, is_upper, database_name, data_sql_hash, original_column_count,"
                            " mutated_column_count, mutated_error_class, settings_hash"
                            " from staging.stg_pinoloft__validation_runs"
                            " where pair_hash = ? and target = ? and repeat_index = 0", [p["P3"].pair_hash, T1]) == [
        (DISTINCT, False, "pinolo_data-sql-hash", "data-sql-hash", 1, None, FORMAT_BYTES, "settings-hash")]
    assert query(warehouse, "select validation_run_id, target, status, finished_at is null, repeats, pair_forms_done"
                            " from staging.stg_pinoloft__validation_invocations order by 1") == [
        (1, T1, "interrupted", True, 2, 1), (2, T1, "finished", False, 3, 11), (3, T2, "finished", False, 3, 1)]


def test_the_summary_takes_the_latest_run_and_the_worst_status_per_side(built):
    warehouse, p = built
    got = {
        (r["pair_hash"], r["form"], r["target"]): r
        for r in rows_as_dicts(warehouse, "select * from intermediate.int_validation_runs_summarised")
    }
    assert len(got) == 12

    def pick(key, form="raw", target=T1, *columns):
        row = got[(p[key].pair_hash if key != "orphan" else ORPHAN, form, target)]
        return tuple(row[c] for c in columns)

    cols = ("validation_run_id", "repeats", "is_executable", "is_stable", "oracle_status", "validation_status",
            "original_status", "mutated_status", "failing_side")
    assert pick("P1", "raw", T1, *cols) == (2, 3, True, True, "holds", "executable", "ok", "ok", None)
    assert pick("P1", "sqlsim", T1, *cols) == (2, 3, False, False, None, "not executable", "ok", "error", "mutated")
    assert pick("P2", "raw", T1, *cols) == (2, 3, True, False, "holds", "flaky", "ok", "ok", None)
    assert pick("P3", "raw", T1, *cols) == (2, 3, False, False, None, "not executable", "ok", "error", "mutated")
    assert pick("P3", "raw", T2, *cols) == (3, 3, True, True, "holds", "executable", "ok", "ok", None)
    assert pick("P6", "raw", T1, *cols) == (2, 3, False, False, None, "not executable", "error", "error", "both")
    assert pick("P4", "raw", T1, *cols) == (2, 3, True, True, "violated", "executable", "ok", "ok", None)
    assert pick("P7", "raw", T1, *cols) == (2, 3, True, False, "mixed", "flaky", "ok", "ok", None)
    assert pick("P5", "raw", T1, *cols) == (2, 3, False, False, None, "not executable", "timeout", "ok", "original")

    errors = ("original_error_class", "original_error_code", "original_error", "mutated_error_class",
              "mutated_error_code", "mutated_error", "original_failed_repeats", "mutated_failed_repeats")
    assert pick("P5", "raw", T1, *errors) == (
        FORMAT_BYTES, 1305, "FUNCTION pinolo_2.format_bytes does not exist", None, None, None, 2, 0)
    assert pick("P3", "raw", T1, *errors) == (
        None, None, None, FORMAT_BYTES, 1305, "FUNCTION pinolo_0123456789abcdef.format_bytes does not exist", 0, 3)
    assert pick("P4", "raw", T1, *errors) == (None, None, None, None, None, None, 0, 0)  # run 1 is ignored
    assert pick("P4", "raw", T1, "strategy", "is_upper", "data_sql_hash", "settings_hash", "server_version") == (
        CMP_U, True, "data-sql-hash", "settings-hash", "MariaDB 11.4")


def test_validation_results_join_the_pairs(built):
    warehouse, p = built
    rows = rows_as_dicts(warehouse, "select * from marts.validation_results")
    assert len(rows) == 11  # the orphan log has no pair
    by_key = {(r["pair_id"], r["form"], r["target"]): r for r in rows}
    cols = ("pair_hash", "strategy", "is_upper", "dbms", "is_synthetic", "validation_status", "is_executable",
            "is_stable", "oracle_status", "failing_side", "error_class", "repeats", "server_version",
            "validation_run_id")
    got = {k: tuple(r[c] for c in cols) for k, r in by_key.items()}

    def expect(key, form, target, *rest):
        return (p[key].pair_id, form, target), (p[key].pair_hash, p[key].strategy, p[key].is_upper, p[key].dbms,
                                                key == "S1", *rest)

    expected = dict([
        expect("P1", "raw", T1, "executable", True, True, "holds", None, None, 3, "MariaDB 11.4", 2),
        expect("P1", "sqlsim", T1, "not executable", False, False, None, "mutated", SYNTAX, 3, "MariaDB 11.4", 2),
        expect("P2", "raw", T1, "flaky", True, False, "holds", None, None, 3, "MariaDB 11.4", 2),
        expect("P3", "raw", T1, "not executable", False, False, None, "mutated", FORMAT_BYTES, 3, "MariaDB 11.4", 2),
        expect("P3", "raw", T2, "executable", True, True, "holds", None, None, 3, "MariaDB 11.4", 3),
        expect("P6", "raw", T1, "not executable", False, False, None, "both", FORMAT_BYTES, 3, "MariaDB 11.4", 2),
        expect("P8", "sqlsim", T1, "executable", True, True, "holds", None, None, 3, "MariaDB 11.4", 2),
        expect("P4", "raw", T1, "executable", True, True, "violated", None, None, 3, "MariaDB 11.4", 2),
        expect("P7", "raw", T1, "flaky", True, False, "mixed", None, None, 3, "MariaDB 11.4", 2),
        expect("P5", "raw", T1, "not executable", False, False, None, "original", FORMAT_BYTES, 3, "MariaDB 11.4", 2),
        expect("S1", "raw", T1, "executable", True, True, "holds", None, None, 3, "MariaDB 11.4", 2),
    ])
    assert got == expected
    assert by_key[(p["P5"].pair_id, "raw", T1)]["original_status"] == "timeout"
    assert str(by_key[(p["P4"].pair_id, "raw", T1)]["last_executed_at"]) == "2026-11-24 10:04:02"


def test_executability_shares_per_target_form_dbms_and_strategy(built):
    warehouse, _ = built
    rows = query(warehouse, "select target, form, dbms, strategy, pairs, executable_pairs, not_executable_pairs,"
                            " flaky_pairs, executable_share, holds_pairs, violated_pairs, incomparable_pairs,"
                            " mixed_pairs, synthetic_pairs from marts.validation_executability order by all")
    assert rows == [
        (T1, "raw", "mariadb", CMP_U, 1, 0, 1, 0, 0.0, 0, 0, 0, 0, 0),
        (T1, "raw", "mysql", CMP_U, 2, 1, 0, 1, 0.5, 0, 1, 0, 1, 0),
        (T1, "raw", "mysql", DISTINCT, 4, 1, 2, 1, 0.25, 2, 0, 0, 0, 0),
        (T1, "raw", "mysql", WHERE_0L, 1, 1, 0, 0, 1.0, 1, 0, 0, 0, 1),
        (T1, "sqlsim", "mysql", DISTINCT, 2, 1, 1, 0, 0.5, 1, 0, 0, 0, 0),
        (T2, "raw", "mysql", DISTINCT, 1, 1, 0, 0, 1.0, 1, 0, 0, 0, 0),
    ]
    assert query(warehouse, "select typeof(executable_share) from marts.validation_executability limit 1") == [
        ("DOUBLE",)]


def test_errors_are_grouped_by_class_with_exact_counts_and_an_example(built):
    warehouse, p = built
    example = min(p["P3"].pair_id, p["P6"].pair_id)
    example_side, example_error = (
        ("original", "FUNCTION pinolo_1.format_bytes does not exist (original)") if example == p["P6"].pair_id
        else ("mutated", "FUNCTION pinolo_0123456789abcdef.format_bytes does not exist"))
    rows = query(warehouse, "select target, form, strategy, error_class, pairs, original_failures, mutated_failures,"
                            " example_pair_id, example_side, example_error from marts.validation_errors order by all")
    assert rows == sorted([
        (T1, "raw", CMP_U, FORMAT_BYTES, 1, 1, 0, p["P5"].pair_id, "original",
         "FUNCTION pinolo_2.format_bytes does not exist"),
        (T1, "raw", DISTINCT, FORMAT_BYTES, 2, 1, 2, example, example_side, example_error),
        (T1, "sqlsim", DISTINCT, SYNTAX, 1, 0, 1, p["P1"].pair_id, "mutated", "You have an error in your SQL syntax"),
    ])


def test_pairs_take_the_worst_status_over_forms_and_targets(built):
    warehouse, p = built
    statuses = dict(query(warehouse, "select pair_id, validation_status from marts.pairs"))
    assert {k: statuses[p[k].pair_id] for k in p} == {
        "P1": "not executable", "P2": "flaky", "P3": "not executable", "P6": "not executable",
        "P8": "executable", "P4": "executable", "P7": "flaky", "P5": "not executable", "S1": "executable"}


def test_datasets_requiring_executable_take_only_pairs_executable_on_their_target_and_form(built):
    warehouse, p = built
    selected = {}
    for dataset in ("exec", "exec_sqlsim", "exec_mysql", "any_target"):
        selected[dataset] = sorted(query(warehouse, "select pair_id, content_form, validation_status"
                                                    " from marts.dataset_examples where dataset_name = ?", [dataset]))
    assert selected == {
        "exec": [(p["P1"].pair_id, "raw", "executable")],
        "exec_sqlsim": [(p["P8"].pair_id, "sqlsim", "executable")],
        "exec_mysql": [(p["P3"].pair_id, "raw", "executable")],
        # no target: the worst over targets in the dataset's form (P3 fails on T1)
        "any_target": [(p["P1"].pair_id, "raw", "executable")],
    }
    reasons = dict(query(warehouse, "select pair_id, exclusion_reason from marts.dataset_candidates"
                                    " where dataset_name = 'exec'"))
    assert reasons == {p["P1"].pair_id: None, p["P2"].pair_id: "flaky", p["P3"].pair_id: "not executable",
                       p["P6"].pair_id: "not executable", p["P8"].pair_id: "not validated"}
    # exec_sqlsim: pairs without sqlsim texts fall back to raw and are judged on their raw validation
    reasons = dict(query(warehouse, "select pair_id, content_form || ': ' || coalesce(exclusion_reason, '-')"
                                    " from marts.dataset_candidates where dataset_name = 'exec_sqlsim'"))
    assert reasons == {p["P1"].pair_id: "sqlsim: not executable", p["P2"].pair_id: "raw: flaky",
                       p["P3"].pair_id: "raw: not executable", p["P6"].pair_id: "raw: not executable",
                       p["P8"].pair_id: "sqlsim: -"}
    coverage = query(warehouse, "select dataset_name, candidate_pairs, available, excluded_not_executable, selected"
                                " from marts.dataset_coverage order by 1")
    assert coverage == [("any_target", 5, 1, 4, 1), ("exec", 5, 1, 4, 1), ("exec_mysql", 5, 1, 4, 1),
                        ("exec_sqlsim", 5, 1, 4, 1)]
