-- The raw schema of docs/warehouse.md, as DDL: what ingest/ (and validation/, issue 4) create. The dbt
-- tests and bench/transform.py build on it; column names and types follow the contract (unspecified types
-- as ingest/schema.py has them; test_dbt_raw_contract.py checks they agree). Keys are logical, as in ingest:
-- not declared as constraints.
CREATE SCHEMA IF NOT EXISTS raw;

CREATE TABLE raw.ingest_runs (
    ingest_run_id BIGINT,  -- key
    source_root VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP,
    files_seen BIGINT, files_loaded BIGINT, files_quarantined BIGINT, files_unchanged BIGINT,
    files_vanished BIGINT, reconciliation VARCHAR
);

CREATE TABLE raw.ingest_files (
    source_root VARCHAR, relative_path VARCHAR, run VARCHAR, dbms VARCHAR, task VARCHAR,
    file_kind VARCHAR, size BIGINT, mtime_ns BIGINT, file_hash VARCHAR, status VARCHAR,
    first_seen_run BIGINT, last_seen_run BIGINT, updated_at TIMESTAMP
);  -- key: (source_root, relative_path)

CREATE TABLE raw.bug_reports (
    source_root VARCHAR, run VARCHAR, dbms VARCHAR, task VARCHAR, task_id INTEGER,
    relative_path VARCHAR, file_hash VARCHAR, ingested_at TIMESTAMP, ingest_run_id BIGINT,
    folder VARCHAR, bug_id INTEGER, sql_id INTEGER, mutation_name VARCHAR, is_upper BOOLEAN,
    report_time VARCHAR, original_sql VARCHAR, mutated_sql VARCHAR, pair_hash VARCHAR,
    log_relative_path VARCHAR, log_file_hash VARCHAR,
    original_row_count INTEGER, original_columns VARCHAR[], original_column_types VARCHAR[],
    original_duration VARCHAR, original_duration_ms DOUBLE, original_error VARCHAR,
    mutated_row_count INTEGER, mutated_columns VARCHAR[], mutated_column_types VARCHAR[],
    mutated_duration VARCHAR, mutated_duration_ms DOUBLE, mutated_error VARCHAR,
    is_vanished BOOLEAN
);  -- key: (source_root, relative_path)

CREATE TABLE raw.task_results (
    source_root VARCHAR, run VARCHAR, dbms VARCHAR, task VARCHAR, task_id INTEGER,
    relative_path VARCHAR, file_hash VARCHAR, ingested_at TIMESTAMP, ingest_run_id BIGINT,
    start_time VARCHAR, ddl_sqls_num BIGINT, dml_sqls_num BIGINT, end_init_time VARCHAR,
    stage1_err_num BIGINT, stage1_exec_err_num BIGINT, stage2_err_num BIGINT, stage2_unit_num BIGINT,
    stage2_unit_err_num BIGINT, stage2_unit_exec_err_num BIGINT, impo_bugs_num BIGINT,
    save_bug_err_num BIGINT, end_time VARCHAR
);  -- key: (source_root, run, dbms, task)

CREATE TABLE raw.pool_results (
    source_root VARCHAR, run VARCHAR, dbms VARCHAR, task VARCHAR, task_id INTEGER, relative_path VARCHAR, file_hash VARCHAR,
    ingested_at TIMESTAMP, ingest_run_id BIGINT,
    start_time VARCHAR, total_task_num BIGINT, finished_task_num BIGINT, error_task_num BIGINT,
    error_task_ids INTEGER[], bugs_num BIGINT, bug_task_ids INTEGER[], end_time VARCHAR
);  -- key: (source_root, run, dbms)

CREATE TABLE raw.task_configs (
    source_root VARCHAR, run VARCHAR, dbms VARCHAR, task VARCHAR, task_id INTEGER,
    relative_path VARCHAR, file_hash VARCHAR, ingested_at TIMESTAMP, ingest_run_id BIGINT,
    output_path VARCHAR, config_dbms VARCHAR, host VARCHAR, port BIGINT, username VARCHAR,
    password_removed BOOLEAN, dbname VARCHAR, seed BIGINT, ddl_path VARCHAR, dml_path VARCHAR,
    rd_gen_path VARCHAR, zz_path VARCHAR, yy_path VARCHAR, queries_num BIGINT, need_dml BOOLEAN
);  -- key: (source_root, run, dbms, task_id)

CREATE TABLE raw.data_sqls (
    source_root VARCHAR, run VARCHAR, dbms VARCHAR, task VARCHAR, task_id INTEGER,
    relative_path VARCHAR, file_hash VARCHAR, ingested_at TIMESTAMP, ingest_run_id BIGINT,
    content VARCHAR, sha256 VARCHAR, size BIGINT
);  -- key: (source_root, run, dbms, task)

CREATE TABLE raw.task_log_bugs (
    source_root VARCHAR, run VARCHAR, dbms VARCHAR, task VARCHAR, task_id INTEGER,
    relative_path VARCHAR, file_hash VARCHAR, ingested_at TIMESTAMP, ingest_run_id BIGINT,
    line_number INTEGER, logged_at VARCHAR, level VARCHAR, bug_id INTEGER, sql_id INTEGER,
    mutation_name VARCHAR
);  -- key: (source_root, run, dbms, task, line_number)

CREATE TABLE raw.tasks (
    source_root VARCHAR, run VARCHAR, dbms VARCHAR, task VARCHAR, task_id INTEGER, relative_path VARCHAR,
    has_result BOOLEAN, finished_in_log BOOLEAN, folders VARCHAR[],
    ingested_at TIMESTAMP, ingest_run_id BIGINT
);  -- key: (source_root, run, dbms, task)

CREATE TABLE raw.ingest_quarantine (
    source_root VARCHAR, relative_path VARCHAR, run VARCHAR, dbms VARCHAR, task VARCHAR,
    file_kind VARCHAR, reason VARCHAR, file_hash VARCHAR, ingested_at TIMESTAMP, ingest_run_id BIGINT
);  -- key: (source_root, relative_path)

CREATE TABLE raw.mutation_verdicts (
    pair_hash VARCHAR,  -- key
    strategy VARCHAR, original_sql VARCHAR, mutated_sql VARCHAR,
    conforms BOOLEAN, is_upper BOOLEAN, reason VARCHAR, original_fingerprint VARCHAR,
    pair_fingerprint VARCHAR, checked_at TIMESTAMP, engine_version VARCHAR
);

CREATE TABLE raw.dataset_configs (
    dataset_name VARCHAR, strategy VARCHAR, dbms VARCHAR[], quota INTEGER, max_length INTEGER,
    form VARCHAR, train_ratio DOUBLE, validation_ratio DOUBLE, test_ratio DOUBLE, seed BIGINT,
    top_up BOOLEAN, require_conforming BOOLEAN, require_executable BOOLEAN, target VARCHAR,
    config_hash VARCHAR, loaded_at TIMESTAMP
);  -- key: (dataset_name, strategy)

CREATE TABLE raw.synthetic_pairs (
    pair_hash VARCHAR,  -- key
    dataset_name VARCHAR, dbms VARCHAR, strategy VARCHAR,
    is_upper BOOLEAN, original_sql VARCHAR, mutated_sql VARCHAR, original_sqlsim VARCHAR,
    mutated_sqlsim VARCHAR, source_pair_hash VARCHAR, source_relative_path VARCHAR,
    created_at TIMESTAMP
);

CREATE TABLE raw.external_pairs (
    source VARCHAR, source_file VARCHAR, line_number INTEGER,  -- key: (source_file, line_number)
    file_hash VARCHAR, ingested_at TIMESTAMP, ingest_run_id BIGINT, strategy VARCHAR, is_upper BOOLEAN,
    is_reversed BOOLEAN, strategy_given BOOLEAN, identified VARCHAR[], dbms VARCHAR, ddl VARCHAR, url VARCHAR,
    original_sql VARCHAR, mutated_sql VARCHAR, pair_hash VARCHAR
);

CREATE TABLE raw.validation_runs (
    pair_hash VARCHAR, form VARCHAR, target VARCHAR, server_version VARCHAR,
    validation_run_id BIGINT, repeat_index INTEGER,
    original_status VARCHAR, original_error_code INTEGER, original_error VARCHAR,
    original_row_count BIGINT, original_digest VARCHAR, original_duration_ms DOUBLE,
    mutated_status VARCHAR, mutated_error_code INTEGER, mutated_error VARCHAR,
    mutated_row_count BIGINT, mutated_digest VARCHAR, mutated_duration_ms DOUBLE,
    oracle VARCHAR, executed_at TIMESTAMP,
    -- validation (issue 4)
    strategy VARCHAR, is_upper BOOLEAN, database_name VARCHAR, data_sql_hash VARCHAR,
    original_column_count INTEGER, mutated_column_count INTEGER,
    original_error_class VARCHAR, mutated_error_class VARCHAR, settings_hash VARCHAR
);  -- key: (validation_run_id, pair_hash, form, target, repeat_index)

CREATE TABLE raw.validation_invocations (
    validation_run_id BIGINT,  -- key
    target VARCHAR, server_name VARCHAR, server_version VARCHAR, endpoint VARCHAR, scope VARCHAR,
    settings_hash VARCHAR, repeats INTEGER, statement_timeout_s DOUBLE, row_cap BIGINT, jobs INTEGER,
    started_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR,
    pair_forms_planned BIGINT, pair_forms_skipped BIGINT, pair_forms_done BIGINT,
    statements_executed BIGINT, statements_refused BIGINT, message VARCHAR
);
