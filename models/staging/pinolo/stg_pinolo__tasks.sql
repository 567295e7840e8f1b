select
    cast(source_root as varchar) as source_root,
    cast(run as varchar) as run,
    cast(dbms as varchar) as dbms,
    cast(task as varchar) as task,
    cast(task_id as integer) as task_id,
    cast(relative_path as varchar) as relative_path,
    cast(has_result as boolean) as has_result,
    cast(finished_in_log as boolean) as finished_in_log,
    cast(folders as varchar[]) as folders,
    cast(ingested_at as timestamp) as ingested_at,
    cast(ingest_run_id as bigint) as ingest_run_id
from {{ source('pinolo', 'tasks') }}
