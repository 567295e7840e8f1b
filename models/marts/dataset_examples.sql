-- The selected examples of every dataset, one row per dataset × example, in the chat format's parts:
-- system_prompt = 'You are an expert in <DBMS display name> statement mutation.' || illustration
-- (no space between, as in the user's own rows), user_content / assistant_content = the original /
-- mutated SQL in content_form ('sqlsim' when the dataset asks for it and the pair has a sqlsim
-- simplification, else 'raw'). Exporters write each split ordered by position.
-- Provenance (run, task, bug_id, sql_id, relative_path) is the pair's representative report; for a
-- synthetic example, the real report whose original it reuses.

with selected as (

    select * from {{ ref('dataset_candidates') }}
    where is_selected

),

pairs as (

    -- real pairs from marts.pairs; a synthetic example's texts and provenance are its own dataset's
    -- derivation (int_synthetic_pairs_deduplicated), never another dataset's
    select
        cast(null as varchar) as synthetic_dataset_name,
        pair_id, is_upper, original_sql, mutated_sql, original_sqlsim, mutated_sqlsim,
        run, task, bug_id, sql_id, relative_path, source_root, stability, occurrences, source
    from {{ ref('pairs') }}
    where not is_synthetic

    union all

    select
        dataset_name as synthetic_dataset_name,
        pair_id, is_upper, original_sql, mutated_sql, original_sqlsim, mutated_sqlsim,
        run, task, bug_id, sql_id, relative_path, source_root, stability, occurrences,
        'synthetic' as source
    from {{ ref('int_synthetic_pairs_deduplicated') }}

),

prompts as (

    select strategy, illustration from {{ ref('strategy_prompts') }}

),

display_names as (

    select dbms, display_name from {{ ref('dbms_display_names') }}

)

select
    selected.dataset_name,
    selected.pair_id as example_id,
    selected.split,
    selected.position,
    selected.dbms,
    selected.strategy,
    pairs.is_upper,
    'You are an expert in ' || display_names.display_name || ' statement mutation.'
        || prompts.illustration as system_prompt,
    case selected.content_form when 'sqlsim' then pairs.original_sqlsim else pairs.original_sql end
        as user_content,
    case selected.content_form when 'sqlsim' then pairs.mutated_sqlsim else pairs.mutated_sql end
        as assistant_content,
    selected.content_form,
    selected.pair_id,
    selected.pair_hash,
    selected.content_original_fingerprint as original_fingerprint,
    pairs.run,
    pairs.task,
    pairs.bug_id,
    pairs.sql_id,
    pairs.relative_path,
    pairs.source_root,
    selected.user_length,
    selected.assistant_length,
    selected.validation_status,
    selected.is_synthetic,
    selected.selection_rank,
    pairs.stability,
    pairs.occurrences,
    pairs.source
from selected
inner join pairs
    on  pairs.pair_id = selected.pair_id
    and pairs.synthetic_dataset_name is not distinct from
        case when selected.is_synthetic then selected.dataset_name end
left join prompts
    on prompts.strategy = selected.strategy
left join display_names
    on display_names.dbms = selected.dbms
