-- No strategy gets more examples than its quota.
select dataset_name, strategy, any_value(quota) as quota, count(*) as selected
from {{ ref('dataset_candidates') }}
where is_selected
group by dataset_name, strategy
having any_value(quota) is not null and count(*) > any_value(quota)
