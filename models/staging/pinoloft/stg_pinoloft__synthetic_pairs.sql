select
    cast(pair_hash as varchar) as pair_hash,
    cast(dataset_name as varchar) as dataset_name,
    cast(dbms as varchar) as dbms,
    cast(strategy as varchar) as strategy,
    cast(is_upper as boolean) as is_upper,
    cast(original_sql as varchar) as original_sql,
    cast(mutated_sql as varchar) as mutated_sql,
    cast(original_sqlsim as varchar) as original_sqlsim,
    cast(mutated_sqlsim as varchar) as mutated_sqlsim,
    cast(source_pair_hash as varchar) as source_pair_hash,
    cast(source_relative_path as varchar) as source_relative_path,
    cast(created_at as timestamp) as created_at
from {{ source('pinoloft', 'synthetic_pairs') }}
