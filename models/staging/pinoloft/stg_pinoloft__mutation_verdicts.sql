select
    cast(pair_hash as varchar) as pair_hash,
    cast(strategy as varchar) as strategy,
    cast(original_sql as varchar) as original_sql,
    cast(mutated_sql as varchar) as mutated_sql,
    cast(conforms as boolean) as conforms,
    cast(is_upper as boolean) as is_upper,
    cast(reason as varchar) as reason,
    cast(original_fingerprint as varchar) as original_fingerprint,
    cast(pair_fingerprint as varchar) as pair_fingerprint,
    cast(checked_at as timestamp) as checked_at,
    cast(engine_version as varchar) as engine_version
from {{ source('pinoloft', 'mutation_verdicts') }}
