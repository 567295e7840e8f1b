-- One row per distinct pair with its overall validation status, over every form and target it was
-- validated on: 'not validated' without logs, else the worst of 'not executable' > 'flaky' >
-- 'executable'. (Per target and form, see int_validation_runs_summarised; the dataset selection uses
-- the dataset's own target and form.)

with pairs as (

    select * from {{ ref('int_pairs_deduplicated') }}

),

validations as (

    select
        pair_hash,
        count(*) as validated_targets,
        max(
            case validation_status
                when 'not executable' then 3
                when 'flaky' then 2
                else 1
            end
        ) as worst_status
    from {{ ref('int_validation_runs_summarised') }}
    group by pair_hash

)

select
    pairs.*,
    coalesce(validations.validated_targets, 0) as validated_targets,
    case validations.worst_status
        when 3 then 'not executable'
        when 2 then 'flaky'
        when 1 then 'executable'
        else 'not validated'
    end as validation_status
from pairs
left join validations
    on validations.pair_hash = pairs.pair_hash
