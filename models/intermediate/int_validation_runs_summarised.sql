-- One row per pair × form × target that was validated: the latest validation run's repeats summed up.
--   is_executable     both sides ran without error in every repeat (status 'ok');
--   is_stable         every repeat gave the same result digest on each side and the same oracle;
--   oracle_status     'holds' / 'violated' / 'incomparable' when every repeat agrees, else 'mixed'
--                     (NULL when not executable);
--   validation_status 'not executable', 'flaky' (executable but not stable) or 'executable'.
-- pair_hash is the pair's representative hash (marts.pairs.pair_hash), form says which texts ran.

with runs as (

    select * from {{ ref('stg_validation__validation_runs') }}

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
        count(*) as repeats,
        count(*) filter (where original_status = 'ok' and mutated_status = 'ok') as executable_repeats,
        count(distinct original_digest) as original_digests,
        count(distinct mutated_digest) as mutated_digests,
        count(distinct coalesce(oracle, '')) as oracle_outcomes,
        count(*) filter (where oracle = 'holds') as holds_repeats,
        count(*) filter (where oracle = 'violated') as violated_repeats,
        count(*) filter (where oracle = 'incomparable') as incomparable_repeats,
        min(original_error_code) filter (where original_status is distinct from 'ok') as original_error_code,
        min(original_error) filter (where original_status is distinct from 'ok') as original_error,
        min(mutated_error_code) filter (where mutated_status is distinct from 'ok') as mutated_error_code,
        min(mutated_error) filter (where mutated_status is distinct from 'ok') as mutated_error,
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
    original_error_code,
    original_error,
    mutated_error_code,
    mutated_error,
    last_executed_at
from derived
