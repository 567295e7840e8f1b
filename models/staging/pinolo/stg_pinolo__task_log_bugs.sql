select
    cast(source_root as varchar) as source_root,
    cast(run as varchar) as run,
    cast(dbms as varchar) as dbms,
    cast(task as varchar) as task,
    cast(task_id as integer) as task_id,
    cast(relative_path as varchar) as relative_path,
    cast(file_hash as varchar) as file_hash,
    cast(ingested_at as timestamp) as ingested_at,
    cast(ingest_run_id as bigint) as ingest_run_id,
    cast(line_number as integer) as line_number,
    cast(logged_at as varchar) as logged_at,
    cast(level as varchar) as level,
    cast(bug_id as integer) as bug_id,
    cast(sql_id as integer) as sql_id,
    cast(mutation_name as varchar) as mutation_name
from {{ source('pinolo', 'task_log_bugs') }}
