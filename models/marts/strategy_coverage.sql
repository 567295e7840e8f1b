-- Coverage per DBMS × strategy: every one of the 18 strategies for every DBMS of the display-name seed
-- (and any other DBMS found), zeros included, so missing strategies show. Counts are of real pairs;
-- a pair is counted under its representative's DBMS (so the rows add up to marts.pairs).

with strategies as (

    select strategy from {{ ref('strategy_prompts') }}

),

dbmses as (

    select dbms from {{ ref('dbms_display_names') }}
    union
    select distinct dbms from {{ ref('pairs') }}

),

reports as (

    select dbms, mutation_name as strategy, count(*) as reports
    from {{ ref('stg_pinolo__bug_reports') }}
    where folder = 'bugs' and not coalesce(is_vanished, false)
    group by dbms, mutation_name

),

pairs as (

    select
        dbms,
        strategy,
        count(*) filter (where not is_synthetic) as distinct_pairs,
        count(*) filter (where not is_synthetic and conforms) as conforming_pairs,
        count(*) filter (where not is_synthetic and original_sqlsim is not null) as sqlsim_pairs,
        count(*) filter (where not is_synthetic and stability = 'unstable') as unstable_pairs,
        count(*) filter (where not is_synthetic and stability = 'maystable') as maystable_pairs,
        count(*) filter (where not is_synthetic and validation_status = 'executable') as executable_pairs,
        count(*) filter (where is_synthetic) as synthetic_pairs
    from {{ ref('pairs') }}
    group by dbms, strategy

),

grid as (

    select dbmses.dbms, strategies.strategy
    from dbmses cross join strategies
    union
    select dbms, strategy from reports
    union
    select dbms, strategy from pairs

)

select
    grid.dbms,
    grid.strategy,
    coalesce(reports.reports, 0) as reports,
    coalesce(pairs.distinct_pairs, 0) as distinct_pairs,
    coalesce(pairs.conforming_pairs, 0) as conforming_pairs,
    coalesce(pairs.sqlsim_pairs, 0) as sqlsim_pairs,
    coalesce(pairs.unstable_pairs, 0) as unstable_pairs,
    coalesce(pairs.maystable_pairs, 0) as maystable_pairs,
    coalesce(pairs.executable_pairs, 0) as executable_pairs,
    coalesce(pairs.synthetic_pairs, 0) as synthetic_pairs
from grid
left join reports
    on reports.dbms = grid.dbms and reports.strategy = grid.strategy
left join pairs
    on pairs.dbms = grid.dbms and pairs.strategy = grid.strategy
