-- One row per validation run (issue 4 fills raw.validation_invocations).
select
    cast(validation_run_id as bigint) as validation_run_id,
    cast(target as varchar) as target,
    cast(server_name as varchar) as server_name,
    cast(server_version as varchar) as server_version,
    cast(endpoint as varchar) as endpoint,
    cast(scope as varchar) as scope,
    cast(settings_hash as varchar) as settings_hash,
    cast(repeats as integer) as repeats,
    cast(statement_timeout_s as double) as statement_timeout_s,
    cast(row_cap as bigint) as row_cap,
    cast(jobs as integer) as jobs,
    cast(started_at as timestamp) as started_at,
    cast(finished_at as timestamp) as finished_at,
    cast(status as varchar) as status,
    cast(pair_forms_planned as bigint) as pair_forms_planned,
    cast(pair_forms_skipped as bigint) as pair_forms_skipped,
    cast(pair_forms_done as bigint) as pair_forms_done,
    cast(statements_executed as bigint) as statements_executed,
    cast(statements_refused as bigint) as statements_refused,
    cast(message as varchar) as message
from {{ source('pinoloft', 'validation_invocations') }}
