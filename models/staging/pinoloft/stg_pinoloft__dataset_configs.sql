select
    cast(dataset_name as varchar) as dataset_name,
    cast(strategy as varchar) as strategy,
    cast(dbms as varchar[]) as dbms,
    cast(quota as integer) as quota,
    cast(max_length as integer) as max_length,
    cast(form as varchar) as form,
    cast(train_ratio as double) as train_ratio,
    cast(validation_ratio as double) as validation_ratio,
    cast(test_ratio as double) as test_ratio,
    cast(seed as bigint) as seed,
    cast(top_up as boolean) as top_up,
    cast(require_conforming as boolean) as require_conforming,
    cast(require_executable as boolean) as require_executable,
    cast(target as varchar) as target,
    cast(config_hash as varchar) as config_hash,
    cast(loaded_at as timestamp) as loaded_at
from {{ source('pinoloft', 'dataset_configs') }}
