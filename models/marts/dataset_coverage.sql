-- Selection versus availability, one row per dataset × strategy × DBMS (every DBMS the dataset lists,
-- plus any other it drew from): what exists, what was eligible, why the rest was left out, and what
-- was selected per split and how much of it is synthetic.

with configs as (

    select dataset_name, strategy, dbms as dbms_list, quota, coalesce(top_up, false) as top_up
    from {{ ref('stg_pinoloft__dataset_configs') }}

),

candidates as (

    select * from {{ ref('dataset_candidates') }}

),

existing as (

    select strategy, dbms, count(*) as existing_pairs
    from {{ ref('pairs') }}
    where not is_synthetic
    group by strategy, dbms

),

grid as (

    select dataset_name, strategy, unnest(dbms_list) as dbms
    from configs
    where dbms_list is not null
    union
    select distinct dataset_name, strategy, dbms
    from candidates

),

counted as (

    select
        dataset_name,
        strategy,
        dbms,
        count(*) filter (where not is_synthetic) as candidate_pairs,
        count(*) filter (where not is_synthetic and is_eligible) as available,
        count(*) filter (where is_synthetic and is_eligible) as available_synthetic,
        count(*) filter (where not is_synthetic and exclusion_reason = 'not conforming') as excluded_not_conforming,
        count(*) filter (where not is_synthetic and exclusion_reason = 'not checked') as excluded_not_checked,
        count(*) filter (where not is_synthetic and exclusion_reason = 'too long') as excluded_too_long,
        count(*) filter (
            where not is_synthetic and exclusion_reason in ('not validated', 'flaky', 'not executable')
        ) as excluded_not_executable,
        count(*) filter (where is_selected) as selected,
        count(*) filter (where is_selected and split = 'train') as selected_train,
        count(*) filter (where is_selected and split = 'validation') as selected_validation,
        count(*) filter (where is_selected and split = 'test') as selected_test,
        count(*) filter (where is_selected and is_synthetic) as selected_synthetic,
        count(*) filter (where is_selected and content_form = 'raw') as selected_raw_form
    from candidates
    group by dataset_name, strategy, dbms

),

strategy_totals as (

    select dataset_name, strategy, count(*) filter (where is_selected) as strategy_selected
    from candidates
    group by dataset_name, strategy

)

select
    grid.dataset_name,
    grid.strategy,
    grid.dbms,
    configs.quota,
    configs.top_up,
    coalesce(existing.existing_pairs, 0) as existing_pairs,
    coalesce(counted.candidate_pairs, 0) as candidate_pairs,
    coalesce(counted.available, 0) as available,
    coalesce(counted.available_synthetic, 0) as available_synthetic,
    coalesce(counted.excluded_not_conforming, 0) as excluded_not_conforming,
    coalesce(counted.excluded_not_checked, 0) as excluded_not_checked,
    coalesce(counted.excluded_too_long, 0) as excluded_too_long,
    coalesce(counted.excluded_not_executable, 0) as excluded_not_executable,
    coalesce(counted.selected, 0) as selected,
    coalesce(counted.selected_train, 0) as selected_train,
    coalesce(counted.selected_validation, 0) as selected_validation,
    coalesce(counted.selected_test, 0) as selected_test,
    coalesce(counted.selected_synthetic, 0) as selected_synthetic,
    coalesce(counted.selected_raw_form, 0) as selected_raw_form,
    coalesce(strategy_totals.strategy_selected, 0) as strategy_selected,
    case
        when configs.quota is null then 0
        else greatest(configs.quota - coalesce(strategy_totals.strategy_selected, 0), 0)
    end as strategy_shortfall
from grid
inner join configs
    on  configs.dataset_name = grid.dataset_name
    and configs.strategy = grid.strategy
left join existing
    on  existing.strategy = grid.strategy
    and existing.dbms = grid.dbms
left join counted
    on  counted.dataset_name = grid.dataset_name
    and counted.strategy = grid.strategy
    and counted.dbms = grid.dbms
left join strategy_totals
    on  strategy_totals.dataset_name = grid.dataset_name
    and strategy_totals.strategy = grid.strategy
