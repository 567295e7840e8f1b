-- One row per pair × form × target that was validated: the latest validation run's repeats summed up.
--   is_executable     both sides ran without error in every repeat (status 'ok');
--   is_stable         every repeat gave the same result digest on each side and the same oracle;
--   oracle_status     'holds' / 'violated' / 'incomparable' when every repeat agrees, else 'mixed'
--                     (NULL when not executable);
--   validation_status 'not executable', 'flaky' (executable but not stable) or 'executable';
--   original_status / mutated_status
--                     the worst per side over the repeats: 'ok' only when every repeat was ok, else the
--                     status of the first failing repeat (by repeat_index);
--   failing_side      'original', 'mutated' or 'both' (a side fails when any repeat of it failed); NULL
--                     when executable;
--   *_error_class     the smallest error class over the side's failing repeats; *_error and
--                     *_error_code come from that same repeat (ties: the smallest message, then code).
-- pair_hash is the pair's representative hash (marts.pairs.pair_hash), form says which texts ran.

with runs as (

    select * from {{ ref('stg_pinoloft__validation_runs') }}

),

latest as (

    select
        *,
        max(validation_run_id) over (partition by pair_hash, form, target) as latest_run_id
    from runs

),

summarised as (

    select
        pair_hash,
        form,
        target,
        validation_run_id,
        max(server_version) as server_version,
        min(strategy) as strategy,
        min(is_upper) as is_upper,
        min(data_sql_hash) as data_sql_hash,
        min(settings_hash) as settings_hash,
        count(*) as repeats,
        count(*) filter (where original_status = 'ok' and mutated_status = 'ok') as executable_repeats,
        count(*) filter (where original_status is distinct from 'ok') as original_failed_repeats,
        count(*) filter (where mutated_status is distinct from 'ok') as mutated_failed_repeats,
        arg_min(original_status, repeat_index) filter (where original_status is distinct from 'ok')
            as original_first_failure,
        arg_min(mutated_status, repeat_index) filter (where mutated_status is distinct from 'ok')
            as mutated_first_failure,
        -- structs compare field by field, NULLs last: the smallest class, then message, then code
        min({'error_class': original_error_class, 'error': original_error, 'error_code': original_error_code})
            filter (where original_status is distinct from 'ok') as original_failure,
        min({'error_class': mutated_error_class, 'error': mutated_error, 'error_code': mutated_error_code})
            filter (where mutated_status is distinct from 'ok') as mutated_failure,
        count(distinct original_digest) as original_digests,
        count(distinct mutated_digest) as mutated_digests,
        count(distinct coalesce(oracle, '')) as oracle_outcomes,
        count(*) filter (where oracle = 'holds') as holds_repeats,
        count(*) filter (where oracle = 'violated') as violated_repeats,
        count(*) filter (where oracle = 'incomparable') as incomparable_repeats,
        max(executed_at) as last_executed_at
    from latest
    where validation_run_id is not distinct from latest_run_id
    group by pair_hash, form, target, validation_run_id

),

derived as (

    select
        *,
        executable_repeats = repeats as is_executable,
        executable_repeats = repeats
            and original_digests <= 1 and mutated_digests <= 1 and oracle_outcomes = 1 as is_stable
    from summarised

)

select
    pair_hash,
    form,
    target,
    validation_run_id,
    server_version,
    strategy,
    is_upper,
    data_sql_hash,
    settings_hash,
    repeats,
    executable_repeats,
    is_executable,
    is_stable,
    case
        when not is_executable then null
        when holds_repeats = repeats then 'holds'
        when violated_repeats = repeats then 'violated'
        when incomparable_repeats = repeats then 'incomparable'
        else 'mixed'
    end as oracle_status,
    case
        when not is_executable then 'not executable'
        when not is_stable then 'flaky'
        else 'executable'
    end as validation_status,
    case when original_failed_repeats = 0 then 'ok' else original_first_failure end as original_status,
    case when mutated_failed_repeats = 0 then 'ok' else mutated_first_failure end as mutated_status,
    case
        when original_failed_repeats > 0 and mutated_failed_repeats > 0 then 'both'
        when original_failed_repeats > 0 then 'original'
        when mutated_failed_repeats > 0 then 'mutated'
    end as failing_side,
    original_failed_repeats,
    mutated_failed_repeats,
    original_failure.error_code as original_error_code,
    original_failure.error as original_error,
    original_failure.error_class as original_error_class,
    mutated_failure.error_code as mutated_error_code,
    mutated_failure.error as mutated_error,
    mutated_failure.error_class as mutated_error_class,
    last_executed_at
from derived
