-- One row per pair × form × target validated (PK pair_hash, form, target): the latest validation run of
-- the pair (int_validation_runs_summarised) with the pair's identity from marts.pairs (pair_id, strategy,
-- is_upper, the representative's DBMS, is_synthetic). Joined on pair_hash, the representative's hash:
-- logs of a hash that no pair carries (any more) are left out, as everywhere else in the marts.
-- error_class is the original's class when the original failed, else the mutated query's.

with summary as (

    select * from {{ ref('int_validation_runs_summarised') }}

),

pairs as (

    select pair_id, pair_hash, strategy, is_upper, dbms, is_synthetic
    from {{ ref('pairs') }}

)

select
    summary.pair_hash,
    summary.form,
    summary.target,
    pairs.pair_id,
    pairs.strategy,
    pairs.is_upper,
    pairs.dbms,
    pairs.is_synthetic,
    summary.validation_status,
    summary.is_executable,
    summary.is_stable,
    summary.oracle_status,
    summary.failing_side,
    case
        when summary.failing_side in ('original', 'both') then summary.original_error_class
        else summary.mutated_error_class
    end as error_class,
    summary.original_status,
    summary.mutated_status,
    summary.original_error_class,
    summary.mutated_error_class,
    summary.original_error_code,
    summary.original_error,
    summary.mutated_error_code,
    summary.mutated_error,
    summary.repeats,
    summary.executable_repeats,
    summary.original_failed_repeats,
    summary.mutated_failed_repeats,
    summary.server_version,
    summary.validation_run_id,
    summary.data_sql_hash,
    summary.settings_hash,
    summary.last_executed_at
from summary
inner join pairs
    on pairs.pair_hash = summary.pair_hash
