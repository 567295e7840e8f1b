-- Selection, step 4 of 5 (top-up): int_candidates_interleaved with the ranks of the eligible synthetic
-- candidates (only a top_up dataset's own derivations reach here, see int_candidates_scoped), taken only
-- for the shortfall the real pairs leave under a finite quota. One row per dataset × pair, as before.
--
--   * dbms_rank continues the count of real pairs selected on the DBMS, so the DBMSs even out counting
--     the real pairs already taken;
--   * selection_rank continues after the strategy's real pairs selected, in the same round robin;
--   * is_selected: within the quota; never with a NULL quota (every real pair is taken then).
-- Real and excluded candidates keep the ranks of the step before.

with interleaved as (

    select * from {{ ref('int_candidates_interleaved') }}

),

real_counts as (

    select dataset_name, strategy, dbms, count(*) filter (where is_selected) as n_selected
    from interleaved
    where not is_synthetic
    group by dataset_name, strategy, dbms

),

real_totals as (

    -- a sum of counts, so HUGEINT: the type selection_rank has in marts.dataset_candidates
    select dataset_name, strategy, sum(n_selected) as n_selected
    from real_counts
    group by dataset_name, strategy

),

flagged as (

    select
        interleaved.*,
        interleaved.exclusion_reason is null and interleaved.is_synthetic as is_synthetic_eligible,
        coalesce(real_counts.n_selected, 0) as real_selected_on_dbms,
        coalesce(real_totals.n_selected, 0) as real_selected
    from interleaved
    left join real_counts
        on  real_counts.dataset_name = interleaved.dataset_name
        and real_counts.strategy = interleaved.strategy
        and real_counts.dbms = interleaved.dbms
    left join real_totals
        on  real_totals.dataset_name = interleaved.dataset_name
        and real_totals.strategy = interleaved.strategy

),

ranked as (

    select
        * replace (
            case
                when is_synthetic_eligible then real_selected_on_dbms + row_number() over (
                    partition by dataset_name, strategy, dbms, is_synthetic_eligible
                    order by validation_rank, user_length + assistant_length, tiebreak, pair_id
                )
                else dbms_rank
            end as dbms_rank
        )
    from flagged

),

topped_up as (

    select
        * replace (
            case
                when is_synthetic_eligible then real_selected + row_number() over (
                    partition by dataset_name, strategy, is_synthetic_eligible
                    order by dbms_rank, dbms_tiebreak, dbms
                )
                else selection_rank
            end as selection_rank
        )
    from ranked

)

select
    * exclude (is_synthetic_eligible, real_selected_on_dbms, real_selected) replace (
        case
            when is_synthetic_eligible then quota is not null and selection_rank <= quota
            else is_selected
        end as is_selected
    )
from topped_up
