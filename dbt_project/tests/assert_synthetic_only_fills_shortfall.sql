-- Synthetic examples only where every eligible real pair of the strategy was taken, and never beyond
-- the quota.
with per_strategy as (
    select
        dataset_name,
        strategy,
        any_value(quota) as quota,
        count(*) filter (where is_selected and is_synthetic) as synthetic_selected,
        count(*) filter (where is_selected) as selected,
        count(*) filter (where is_eligible and not is_synthetic and not is_selected) as real_left_out
    from {{ ref('dataset_candidates') }}
    group by dataset_name, strategy
)
select *
from per_strategy
where synthetic_selected > 0 and (real_left_out > 0 or quota is null or selected > quota)
