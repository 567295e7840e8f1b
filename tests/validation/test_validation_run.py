"""Validation runs on the bundled sample: every pair-form logged with its repeats, reruns that skip finished
work, a server killed mid-run, unusable data SQL, and the dbt join of the logs into the marts."""

from __future__ import annotations

import duckdb
import pytest
from validation_helpers import dbt_build

import validation.run as run_module
from validation import RunSettings, Scope, ServerLost, WarehouseError, validate
from validation.scope import REFERENCE_DATA_SQL_HASH

KEY = "validation_run_id, pair_hash, form, target, repeat_index"


def query(warehouse, sql: str, parameters=None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql, parameters or []).fetchall()


def planned_pair_forms(warehouse, dataset: str = "demo") -> int:
    """Every candidate pair once in raw form, and again in sqlsim form when it has both sqlsim texts."""
    return query(warehouse, """
        SELECT count(*) + count(*) FILTER (WHERE original_sqlsim IS NOT NULL AND mutated_sqlsim IS NOT NULL)
        FROM marts.pairs WHERE pair_id IN (SELECT pair_id FROM marts.dataset_candidates WHERE dataset_name = ?)
    """, [dataset])[0][0]


def run(warehouse, mariadb, **settings):
    scope = settings.pop("scope", Scope(dataset="demo"))
    return validate(warehouse, scope, RunSettings(**settings), mariadb.reader(), mariadb.admin(), quiet=True)


def test_every_pair_form_is_logged_with_all_its_repeats_and_a_rerun_skips_them(warehouse, mariadb):
    planned = planned_pair_forms(warehouse)
    report = run(warehouse, mariadb, repeats=2)
    assert (report.validation_run_id, report.resumed, report.status) == (1, False, "finished")
    assert (report.pair_forms_planned, report.pair_forms_done, report.pair_forms_skipped) == (planned, planned, 0)
    assert report.statements_executed == planned * 2 * 2 and report.statements_refused == 0
    assert query(warehouse, "SELECT count(*), count(DISTINCT (pair_hash, form)) FROM raw.validation_runs") == [
        (planned * 2, planned)]
    assert query(warehouse, f"SELECT count(*) FROM (SELECT {KEY} FROM raw.validation_runs GROUP BY ALL HAVING count(*) > 1)") == [(0,)]
    invocation = query(warehouse, "SELECT status, pair_forms_done, statements_executed, endpoint, finished_at IS NOT NULL "
                                  "FROM raw.validation_invocations")
    assert invocation == [("finished", planned, planned * 4, mariadb.reader().describe(), True)]
    # every side either ran or failed for a reason the run can name
    statuses = dict(query(warehouse, "SELECT original_status || '/' || mutated_status, count(*) FROM raw.validation_runs GROUP BY 1"))
    assert set(statuses) <= {"ok/ok", "ok/error", "error/ok", "error/error"}
    assert query(warehouse, "SELECT count(*) FROM raw.validation_runs WHERE (original_status = 'ok') <> (original_digest IS NOT NULL)") == [(0,)]

    again = run(warehouse, mariadb, repeats=2)
    assert (again.validation_run_id, again.pair_forms_done, again.pair_forms_skipped) == (2, 0, planned)
    assert query(warehouse, "SELECT count(*) FROM raw.validation_runs") == [(planned * 2,)]
    different = run(warehouse, mariadb, repeats=1)  # other settings: a new run executes everything
    assert (different.pair_forms_done, different.pair_forms_skipped) == (planned, 0)


def test_a_server_killed_mid_run_loses_nothing_and_doubles_nothing(warehouse, sample_warehouse, mariadb, monkeypatch, tmp_path):
    monkeypatch.setattr(run_module, "_FLUSH_ROWS", 60)  # commit often, so the kill lands between batches
    planned = planned_pair_forms(warehouse)
    killed_at: list[int] = []

    def kill_once(done: int) -> None:
        if not killed_at and done >= planned // 3:
            killed_at.append(done)
            mariadb.kill()

    with pytest.raises(ServerLost, match="went away"):
        validate(warehouse, Scope(dataset="demo"), RunSettings(repeats=2), mariadb.reader(), mariadb.admin(),
                 quiet=True, on_flush=kill_once)
    logged = query(warehouse, "SELECT count(DISTINCT (pair_hash, form)), count(*) FROM raw.validation_runs")[0]
    assert logged[0] >= killed_at[0] and logged[1] == logged[0] * 2 and logged[0] < planned
    assert query(warehouse, "SELECT status, pair_forms_done FROM raw.validation_invocations") == [("interrupted", logged[0])]

    mariadb.start()
    resumed = run(warehouse, mariadb, repeats=2)
    assert (resumed.validation_run_id, resumed.resumed, resumed.status) == (1, True, "finished")
    assert (resumed.pair_forms_done, resumed.pair_forms_skipped) == (planned, 0)
    assert query(warehouse, "SELECT count(*), count(DISTINCT (pair_hash, form, repeat_index)) FROM raw.validation_runs") == [
        (planned * 2, planned * 2)]

    # the same rows as a run that was never interrupted, apart from timings
    uninterrupted = tmp_path / "uninterrupted.duckdb"
    uninterrupted.write_bytes(sample_warehouse.read_bytes())
    run(uninterrupted, mariadb, repeats=2)
    columns = ("pair_hash, form, repeat_index, original_status, original_digest, mutated_status, mutated_digest, "
               "oracle, original_error_class, mutated_error_class")
    assert query(warehouse, f"SELECT {columns} FROM raw.validation_runs ORDER BY ALL") == query(
        uninterrupted, f"SELECT {columns} FROM raw.validation_runs ORDER BY ALL")


def test_unusable_data_sql_is_logged_as_no_database_and_a_missing_one_falls_back_to_the_reference(warehouse, mariadb):
    tasks = query(warehouse, """
        SELECT DISTINCT p.run, p.dbms, p.task FROM marts.pairs p
        JOIN marts.dataset_candidates c USING (pair_id) WHERE c.dataset_name = 'demo' ORDER BY ALL LIMIT 2""")
    (bad_run, bad_dbms, bad_task), (gone_run, gone_dbms, gone_task) = tasks
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("UPDATE raw.data_sqls SET content = content || ';\ndrop database mysql', sha256 = 'f' || substr(sha256, 2) "
                           "WHERE run = ? AND dbms = ? AND task = ?", [bad_run, bad_dbms, bad_task])
        connection.execute("DELETE FROM raw.data_sqls WHERE run = ? AND dbms = ? AND task = ?", [gone_run, gone_dbms, gone_task])
    run(warehouse, mariadb, repeats=1)
    bad = query(warehouse, """
        SELECT DISTINCT r.original_status, r.mutated_status, r.original_error_class FROM raw.validation_runs r
        JOIN marts.pairs p USING (pair_hash) WHERE p.run = ? AND p.dbms = ? AND p.task = ?""", [bad_run, bad_dbms, bad_task])
    assert bad == [("no_database", "no_database",
                    f"no_database: {bad_run}/{bad_dbms}/{bad_task}/output.data.sql: statement 5 is not CREATE TABLE or "
                    "INSERT: starts with 'drop database'")]
    gone = query(warehouse, """
        SELECT DISTINCT r.data_sql_hash FROM raw.validation_runs r
        JOIN marts.pairs p USING (pair_hash) WHERE p.run = ? AND p.dbms = ? AND p.task = ?""", [gone_run, gone_dbms, gone_task])
    assert gone == [(REFERENCE_DATA_SQL_HASH,)]


def test_an_unknown_dataset_is_named(warehouse, mariadb):
    with pytest.raises(WarehouseError, match=r"no dataset 'nope' in marts.dataset_candidates \(known: demo;"):
        run(warehouse, mariadb, scope=Scope(dataset="nope"))


def test_dbt_joins_the_logs_into_the_marts(warehouse, mariadb):
    report = run(warehouse, mariadb, repeats=2, scope=Scope(all_pairs=True))
    dbt_build(warehouse)
    logged = query(warehouse, "SELECT count(DISTINCT (pair_hash, form)) FROM raw.validation_runs")[0][0]
    assert logged == report.pair_forms_done
    assert query(warehouse, "SELECT count(*) FROM marts.validation_results") == [(logged,)]
    per_status = dict(query(warehouse, "SELECT validation_status, count(*) FROM marts.validation_results GROUP BY 1"))
    not_executable = query(warehouse, """
        SELECT count(DISTINCT (pair_hash, form)) FROM raw.validation_runs
        WHERE original_status <> 'ok' OR mutated_status <> 'ok'""")[0][0]
    assert per_status.get("not executable", 0) == not_executable
    assert query(warehouse, "SELECT count(*) FROM marts.pairs WHERE validation_status = 'not validated'") == [(0,)]
    assert query(warehouse, "SELECT sum(pairs) FROM marts.validation_executability") == [(logged,)]
    known = query(warehouse, """
        SELECT sum(pairs) FROM marts.validation_errors WHERE error_class LIKE 'FUNCTION format_bytes does not exist [known:%'""")[0][0]
    format_bytes = query(warehouse, """
        SELECT count(DISTINCT (pair_hash, form)) FROM raw.validation_runs
        WHERE original_error LIKE '%FORMAT_BYTES%' OR mutated_error LIKE '%FORMAT_BYTES%'""")[0][0]
    assert known == format_bytes > 0


def test_the_readme_validation_queries_answer_after_a_run(warehouse, mariadb):
    import re

    from validation_helpers import ROOT

    queries = [sql for sql in re.findall(r"```sql\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.DOTALL)
               if "marts.validation_" in sql]
    assert queries
    run(warehouse, mariadb, repeats=1)
    dbt_build(warehouse)
    for sql in queries:
        assert query(warehouse, sql), sql


def test_two_workers_log_exactly_what_one_worker_logs(warehouse, sample_warehouse, mariadb, tmp_path):
    single = tmp_path / "single.duckdb"
    single.write_bytes(sample_warehouse.read_bytes())
    run(single, mariadb, repeats=2)
    report = run(warehouse, mariadb, repeats=2, jobs=2)
    assert report.status == "finished" and report.pair_forms_done == planned_pair_forms(warehouse)
    columns = ("pair_hash, form, repeat_index, original_status, original_digest, original_row_count, mutated_status, "
               "mutated_digest, mutated_row_count, oracle, mutated_error_class")
    assert query(warehouse, f"SELECT {columns} FROM raw.validation_runs ORDER BY ALL") == query(
        single, f"SELECT {columns} FROM raw.validation_runs ORDER BY ALL")
    assert query(warehouse, "SELECT jobs FROM raw.validation_invocations") == [(2,)]
