select
    cast(source_root as varchar) as source_root,
    cast(run as varchar) as run,
    cast(dbms as varchar) as dbms,
    cast(relative_path as varchar) as relative_path,
    cast(file_hash as varchar) as file_hash,
    cast(ingested_at as timestamp) as ingested_at,
    cast(ingest_run_id as bigint) as ingest_run_id,
    cast(start_time as varchar) as start_time,
    cast(total_task_num as bigint) as total_task_num,
    cast(finished_task_num as bigint) as finished_task_num,
    cast(error_task_num as bigint) as error_task_num,
    cast(error_task_ids as integer[]) as error_task_ids,
    cast(bugs_num as bigint) as bugs_num,
    cast(bug_task_ids as integer[]) as bug_task_ids,
    cast(end_time as varchar) as end_time
from {{ source('pinolo', 'pool_results') }}
