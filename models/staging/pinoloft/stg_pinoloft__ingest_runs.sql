select
    cast(ingest_run_id as bigint) as ingest_run_id,
    cast(source_root as varchar) as source_root,
    cast(started_at as timestamp) as started_at,
    cast(finished_at as timestamp) as finished_at,
    cast(files_seen as bigint) as files_seen,
    cast(files_loaded as bigint) as files_loaded,
    cast(files_quarantined as bigint) as files_quarantined,
    cast(files_unchanged as bigint) as files_unchanged,
    cast(files_vanished as bigint) as files_vanished,
    cast(reconciliation as varchar) as reconciliation
from {{ source('pinoloft', 'ingest_runs') }}
