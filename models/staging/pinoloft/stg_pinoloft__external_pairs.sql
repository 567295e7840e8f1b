-- Pairs from outside PINOLO (`ingest pairs`), one per stored line, always original -> mutated. Their
-- provenance in PINOLO's terms: source_root = the file, relative_path = `<file name>:<line>`.
select
    cast(source as varchar) as source,
    cast(source_file as varchar) as source_file,
    cast(line_number as integer) as line_number,
    cast(source_file as varchar) as source_root,
    regexp_extract(cast(source_file as varchar), '[^/]*$') || ':' || cast(line_number as varchar)
        as relative_path,
    cast(file_hash as varchar) as file_hash,
    cast(ingested_at as timestamp) as ingested_at,
    cast(ingest_run_id as bigint) as ingest_run_id,
    cast(strategy as varchar) as strategy,
    cast(is_upper as boolean) as is_upper,
    cast(is_reversed as boolean) as is_reversed,
    cast(strategy_given as boolean) as strategy_given,
    cast(identified as varchar[]) as identified,
    cast(dbms as varchar) as dbms,
    cast(ddl as varchar) as ddl,
    cast(url as varchar) as url,
    cast(original_sql as varchar) as original_sql,
    cast(mutated_sql as varchar) as mutated_sql,
    cast(pair_hash as varchar) as pair_hash
from {{ source('pinoloft', 'external_pairs') }}
