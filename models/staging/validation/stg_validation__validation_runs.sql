-- One row per execution of a pair on a target (issue 4 fills raw.validation_runs).
select
    cast(pair_hash as varchar) as pair_hash,
    cast(form as varchar) as form,
    cast(target as varchar) as target,
    cast(server_version as varchar) as server_version,
    cast(validation_run_id as bigint) as validation_run_id,
    cast(repeat_index as integer) as repeat_index,
    cast(original_status as varchar) as original_status,
    cast(original_error_code as integer) as original_error_code,
    cast(original_error as varchar) as original_error,
    cast(original_row_count as bigint) as original_row_count,
    cast(original_digest as varchar) as original_digest,
    cast(original_duration_ms as double) as original_duration_ms,
    cast(mutated_status as varchar) as mutated_status,
    cast(mutated_error_code as integer) as mutated_error_code,
    cast(mutated_error as varchar) as mutated_error,
    cast(mutated_row_count as bigint) as mutated_row_count,
    cast(mutated_digest as varchar) as mutated_digest,
    cast(mutated_duration_ms as double) as mutated_duration_ms,
    cast(oracle as varchar) as oracle,
    cast(executed_at as timestamp) as executed_at
from {{ source('validation', 'validation_runs') }}
