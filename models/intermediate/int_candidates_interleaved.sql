-- Selection, step 3 of 5 (quota and round robin): int_candidates_judged with the ranks of the eligible
-- real candidates, and which of them the quota takes. One row per dataset × pair, as before.
--
--   * dbms_rank: the order within the dataset, strategy and DBMS (validated executable first, then the
--     shortest, then tiebreak; see int_candidates_judged);
--   * selection_rank: the DBMSs take turns (round robin over dbms_rank, the DBMSs in dbms_tiebreak
--     order), so a quota is split as evenly over the DBMSs as their availability allows;
--   * is_selected: within the quota (NULL quota = every eligible real pair).
-- Excluded and synthetic candidates get NULL ranks and is_selected false here: synthetic ones are ranked
-- after every real pair (int_candidates_topped_up). The windows partition on is_real_eligible, so each
-- rank counts the eligible real candidates only.

with judged as (

    select
        *,
        exclusion_reason is null and not is_synthetic as is_real_eligible
    from {{ ref('int_candidates_judged') }}

),

ranked as (

    select
        *,
        case when is_real_eligible then
            row_number() over (
                partition by dataset_name, strategy, dbms, is_real_eligible
                order by validation_rank, user_length + assistant_length, tiebreak, pair_id
            )
        end as dbms_rank
    from judged

),

interleaved as (

    select
        *,
        case when is_real_eligible then
            row_number() over (
                partition by dataset_name, strategy, is_real_eligible
                order by dbms_rank, dbms_tiebreak, dbms
            )
        end as selection_rank
    from ranked

)

select
    * exclude (is_real_eligible),
    coalesce(is_real_eligible and (quota is null or selection_rank <= quota), false) as is_selected
from interleaved
