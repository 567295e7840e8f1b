select
    cast(source_root as varchar) as source_root,
    cast(relative_path as varchar) as relative_path,
    cast(run as varchar) as run,
    cast(dbms as varchar) as dbms,
    cast(task as varchar) as task,
    cast(file_kind as varchar) as file_kind,
    cast(reason as varchar) as reason,
    cast(file_hash as varchar) as file_hash,
    cast(ingested_at as timestamp) as ingested_at,
    cast(ingest_run_id as bigint) as ingest_run_id
from {{ source('pinoloft', 'ingest_quarantine') }}
