-- One row per PINOLO bug report (folder `bugs`, not vanished): the pair with PINOLO's fields, its
-- stability (the bug's copy in maystable/ or unstable/, written by ckstable) and its sqlsim
-- simplification (the copy in sqlsim/), both matched on
-- (source_root, run, dbms, task, bug_id, sql_id, mutation_name).

-- Each folder reads the staging view on its own (no shared CTE): DuckDB would materialize a shared one
-- with every column of every folder, texts included.

with bugs as (

    select * from {{ ref('stg_pinolo__bug_reports') }}
    where folder = 'bugs' and not coalesce(is_vanished, false)

),

stability as (

    -- ckstable puts a bug in exactly one of the two folders; should both exist, maystable wins.
    select
        source_root, run, dbms, task, bug_id, sql_id, mutation_name,
        case when bool_or(folder = 'maystable') then 'maystable' else 'unstable' end as stability
    from {{ ref('stg_pinolo__bug_reports') }}
    where folder in ('maystable', 'unstable') and not coalesce(is_vanished, false)
    group by source_root, run, dbms, task, bug_id, sql_id, mutation_name

),

sqlsim as (

    select
        source_root, run, dbms, task, bug_id, sql_id, mutation_name,
        original_sql as original_sqlsim,
        mutated_sql as mutated_sqlsim,
        -- lengths here, below the join, so that readers that skip the texts never carry them through it
        length(original_sql) as original_sqlsim_length,
        length(mutated_sql) as mutated_sqlsim_length,
        pair_hash as sqlsim_pair_hash,
        relative_path as sqlsim_relative_path
    from {{ ref('stg_pinolo__bug_reports') }}
    where folder = 'sqlsim' and not coalesce(is_vanished, false)

)

select
    bugs.source_root,
    bugs.run,
    bugs.dbms,
    bugs.task,
    bugs.task_id,
    bugs.relative_path,
    bugs.file_hash,
    bugs.ingested_at,
    bugs.ingest_run_id,
    bugs.bug_id,
    bugs.sql_id,
    bugs.mutation_name,
    bugs.mutation_name as strategy,
    bugs.is_upper,
    bugs.report_time,
    bugs.original_sql,
    bugs.mutated_sql,
    bugs.pair_hash,
    sqlsim.original_sqlsim,
    sqlsim.mutated_sqlsim,
    sqlsim.sqlsim_pair_hash,
    sqlsim.sqlsim_relative_path,
    coalesce(stability.stability, 'unknown') as stability,
    length(bugs.original_sql) as original_length,
    length(bugs.mutated_sql) as mutated_length,
    sqlsim.original_sqlsim_length,
    sqlsim.mutated_sqlsim_length,
    bugs.log_relative_path,
    bugs.log_file_hash,
    bugs.original_row_count,
    bugs.original_columns,
    bugs.original_column_types,
    bugs.original_duration,
    bugs.original_duration_ms,
    bugs.original_error,
    bugs.mutated_row_count,
    bugs.mutated_columns,
    bugs.mutated_column_types,
    bugs.mutated_duration,
    bugs.mutated_duration_ms,
    bugs.mutated_error
from bugs
left join stability
    on  stability.source_root = bugs.source_root
    and stability.run = bugs.run
    and stability.dbms = bugs.dbms
    and stability.task = bugs.task
    and stability.bug_id = bugs.bug_id
    and stability.sql_id = bugs.sql_id
    and stability.mutation_name = bugs.mutation_name
left join sqlsim
    on  sqlsim.source_root = bugs.source_root
    and sqlsim.run = bugs.run
    and sqlsim.dbms = bugs.dbms
    and sqlsim.task = bugs.task
    and sqlsim.bug_id = bugs.bug_id
    and sqlsim.sql_id = bugs.sql_id
    and sqlsim.mutation_name = bugs.mutation_name
