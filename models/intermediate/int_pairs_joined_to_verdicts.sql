-- Every pair before deduplication: the real reports of int_pairs_assembled, the synthetic pairs and the
-- pairs from outside PINOLO (stg_pinoloft__external_pairs; `source` names where each pair comes from:
-- 'pinolo', 'synthetic' or the external source's name),
-- each with the engine's verdict on its raw form (by pair_hash) and on its sqlsim form (by the sqlsim
-- pair's hash), and the fingerprints used to deduplicate and to split.
--
-- Fallbacks when the verdict step has not judged a pair yet (documented in docs/warehouse.md):
--   pair_id              = verdict pair_fingerprint, else the pair_hash (exact-text dedupe only);
--   original_fingerprint = verdict original_fingerprint, else (synthetic pairs) the one of the real
--                          report whose original it reuses, else sha256 of the exact original
--                          (likewise original_sqlsim_fingerprint, from that report's sqlsim copy);
--   conforms             = verdict conforms; for synthetic pairs without a verdict, true (the engine
--                          derived them with `apply`), with a reason saying so.

with reports as (

    select
        false as is_synthetic,
        cast(null as varchar) as synthetic_dataset_name,
        'pinolo' as source,
        source_root, run, dbms, task, task_id, relative_path, bug_id, sql_id, strategy, is_upper,
        report_time, original_sql, mutated_sql, pair_hash,
        original_sqlsim, mutated_sqlsim, sqlsim_pair_hash, sqlsim_relative_path, stability,
        original_length, mutated_length, original_sqlsim_length, mutated_sqlsim_length,
        original_row_count, mutated_row_count, original_duration_ms, mutated_duration_ms,
        cast(null as varchar) as known_original_fingerprint,
        cast(null as varchar) as known_original_sqlsim_fingerprint
    from {{ ref('int_pairs_assembled') }}

    union all

    select
        true as is_synthetic,
        dataset_name as synthetic_dataset_name,
        'synthetic' as source,
        source_root, run, dbms, task, task_id,
        source_relative_path as relative_path,
        bug_id, sql_id, strategy, is_upper,
        cast(null as varchar) as report_time,
        original_sql, mutated_sql, pair_hash,
        original_sqlsim, mutated_sqlsim, sqlsim_pair_hash,
        cast(null as varchar) as sqlsim_relative_path,
        'unknown' as stability,
        length(original_sql), length(mutated_sql), length(original_sqlsim), length(mutated_sqlsim),
        cast(null as integer), cast(null as integer), cast(null as double), cast(null as double),
        known_original_fingerprint,
        known_original_sqlsim_fingerprint
    from {{ ref('int_synthetic_pairs_joined_to_sources') }}

    union all

    -- pairs from outside PINOLO (`ingest pairs`): real, labelled with their source name; no run, task,
    -- sqlsim form or execution figures; their verdicts were written at load time
    select
        false as is_synthetic,
        cast(null as varchar) as synthetic_dataset_name,
        source,
        source_root,
        cast(null as varchar) as run,
        dbms,
        cast(null as varchar) as task,
        cast(null as integer) as task_id,
        relative_path,
        cast(null as integer) as bug_id,
        cast(null as integer) as sql_id,
        strategy, is_upper,
        cast(null as varchar) as report_time,
        original_sql, mutated_sql, pair_hash,
        cast(null as varchar) as original_sqlsim,
        cast(null as varchar) as mutated_sqlsim,
        cast(null as varchar) as sqlsim_pair_hash,
        cast(null as varchar) as sqlsim_relative_path,
        'unknown' as stability,
        length(original_sql), length(mutated_sql), cast(null as bigint), cast(null as bigint),
        cast(null as integer), cast(null as integer), cast(null as double), cast(null as double),
        cast(null as varchar) as known_original_fingerprint,
        cast(null as varchar) as known_original_sqlsim_fingerprint
    from {{ ref('stg_pinoloft__external_pairs') }}

),

verdicts as (

    select * from {{ ref('stg_pinoloft__mutation_verdicts') }}

)

select
    reports.* exclude (known_original_fingerprint, known_original_sqlsim_fingerprint),
    raw_verdict.pair_hash is not null as has_verdict,
    coalesce(raw_verdict.pair_fingerprint, reports.pair_hash) as pair_id,
    coalesce(
        raw_verdict.original_fingerprint,
        reports.known_original_fingerprint,
        sha256(reports.original_sql)
    ) as original_fingerprint,
    case
        when reports.original_sqlsim is not null
            then coalesce(
                sqlsim_verdict.original_fingerprint,
                reports.known_original_sqlsim_fingerprint,
                sha256(reports.original_sqlsim)
            )
    end as original_sqlsim_fingerprint,
    case
        when raw_verdict.pair_hash is null and reports.is_synthetic then true
        else raw_verdict.conforms
    end as conforms,
    case
        when raw_verdict.pair_hash is null and reports.is_synthetic
            then 'synthetic: derived by the engine, not checked'
        else raw_verdict.reason
    end as verdict_reason,
    raw_verdict.is_upper as verdict_is_upper,
    case
        when reports.original_sqlsim is null then null
        when sqlsim_verdict.pair_hash is null and reports.is_synthetic then true
        else sqlsim_verdict.conforms
    end as sqlsim_conforms,
    case
        when reports.original_sqlsim is null then null
        when sqlsim_verdict.pair_hash is null and reports.is_synthetic
            then 'synthetic: derived by the engine, not checked'
        else sqlsim_verdict.reason
    end as sqlsim_verdict_reason
from reports
left join verdicts as raw_verdict
    on raw_verdict.pair_hash = reports.pair_hash
left join verdicts as sqlsim_verdict
    on sqlsim_verdict.pair_hash = reports.sqlsim_pair_hash
