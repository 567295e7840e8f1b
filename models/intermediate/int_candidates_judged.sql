-- Selection, step 2 of 5: each candidate of int_candidates_scoped with its validation status and the
-- dataset's verdict on it (exclusion_reason NULL = eligible), and the keys the next steps order by.
--
--   * validation_status: on the dataset's target and the content's form, from the latest validation run
--     (marts.validation_results, materialized once, where the views it is built from would repeat the
--     join to the deduplicated pairs in each later step and test); without a target, the worst over
--     every target validated (not executable > flaky > executable); 'not validated' without logs;
--   * eligible: conforming content when require_conforming (the verdict of the form used), user content
--     (the original in that form) at most max_length characters, and validated executable on the target
--     when require_executable; else the first reason that fails, in that order;
--   * order within a DBMS: validated executable first (then not validated, flaky, not executable), then
--     the shortest (user + assistant length), ties broken by md5(seed:pair_id) (tiebreak); the DBMSs of a
--     strategy take turns in the order of md5(seed:strategy:dbms) (dbms_tiebreak).

with candidates as (

    select * from {{ ref('int_candidates_scoped') }}

),

validation_by_target as (

    -- the latest validation run per pair, form and target, as marts.validation_results shows it
    select pair_hash, form, target, validation_status
    from {{ ref('validation_results') }}

),

validation_any_target as (

    select
        pair_hash,
        form,
        case max(case validation_status when 'not executable' then 3 when 'flaky' then 2 else 1 end)
            when 3 then 'not executable'
            when 2 then 'flaky'
            else 'executable'
        end as validation_status
    from validation_by_target
    group by pair_hash, form

),

validated as (

    select
        candidates.*,
        coalesce(
            case
                when candidates.target is null then validation_any_target.validation_status
                else validation_by_target.validation_status
            end,
            'not validated'
        ) as validation_status
    from candidates
    left join validation_by_target
        on  validation_by_target.pair_hash = candidates.pair_hash
        and validation_by_target.form = candidates.content_form
        and validation_by_target.target = candidates.target
    left join validation_any_target
        on  validation_any_target.pair_hash = candidates.pair_hash
        and validation_any_target.form = candidates.content_form

)

select
    *,
    case
        when require_conforming and content_conforms is null then 'not checked'
        when require_conforming and not content_conforms then 'not conforming'
        when max_length is not null and user_length > max_length then 'too long'
        when require_executable and validation_status <> 'executable' then validation_status
    end as exclusion_reason,
    case validation_status
        when 'executable' then 0
        when 'not validated' then 1
        when 'flaky' then 2
        else 3
    end as validation_rank,
    md5(cast(seed as varchar) || ':' || pair_id) as tiebreak,
    md5(cast(seed as varchar) || ':' || strategy || ':' || dbms) as dbms_tiebreak
from validated
