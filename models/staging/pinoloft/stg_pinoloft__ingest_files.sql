select
    cast(source_root as varchar) as source_root,
    cast(relative_path as varchar) as relative_path,
    cast(run as varchar) as run,
    cast(dbms as varchar) as dbms,
    cast(task as varchar) as task,
    cast(file_kind as varchar) as file_kind,
    cast(size as bigint) as size,
    cast(mtime_ns as bigint) as mtime_ns,
    cast(file_hash as varchar) as file_hash,
    cast(status as varchar) as status,
    cast(first_seen_run as bigint) as first_seen_run,
    cast(last_seen_run as bigint) as last_seen_run,
    cast(updated_at as timestamp) as updated_at
from {{ source('pinoloft', 'ingest_files') }}
