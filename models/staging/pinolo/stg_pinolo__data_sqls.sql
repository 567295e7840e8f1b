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
    cast(content as varchar) as content,
    cast(sha256 as varchar) as sha256,
    cast(size as bigint) as size
from {{ source('pinolo', 'data_sqls') }}
