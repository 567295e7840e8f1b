-- One row per dataset × distinct synthetic pair (pair_id): what a top-up dataset draws its synthetic
-- examples from. Two datasets may derive the same pair (raw.synthetic_pairs is keyed by dataset_name and
-- pair_hash) or literal-only variants of it (same pair_id, another pair_hash); each dataset keeps the
-- texts and provenance of its own derivation, so another dataset's synthetic rows never change its
-- selection. The representative is chosen as in int_pairs_deduplicated, within the dataset: the shortest,
-- then the smallest relative_path, source_root and pair_hash. A pair_id a real report holds is left out
-- (there the real pair wins, as in int_pairs_deduplicated).

with synthetic as (

    select
        * exclude (original_sql, mutated_sql, original_sqlsim, mutated_sqlsim)
    from {{ ref('int_pairs_joined_to_verdicts') }}
    where is_synthetic

),

real_pair_ids as (

    select distinct pair_id
    from {{ ref('int_pairs_joined_to_verdicts') }}
    where not is_synthetic

),

ranked as (

    select
        synthetic.*,
        row_number() over (
            partition by synthetic.synthetic_dataset_name, synthetic.pair_id
            order by
                synthetic.original_length + synthetic.mutated_length,
                synthetic.relative_path,
                synthetic.source_root,
                synthetic.pair_hash
        ) as representative_rank
    from synthetic
    where synthetic.pair_id not in (select pair_id from real_pair_ids)

),

texts as (

    select dataset_name, pair_hash, original_sql, mutated_sql, original_sqlsim, mutated_sqlsim
    from {{ ref('stg_pinoloft__synthetic_pairs') }}

)

select
    rep.synthetic_dataset_name as dataset_name,
    rep.pair_id,
    rep.strategy,
    rep.is_upper,
    rep.dbms,
    rep.source_root,
    rep.run,
    rep.task,
    rep.task_id,
    rep.bug_id,
    rep.sql_id,
    rep.relative_path,
    rep.pair_hash,
    texts.original_sql,
    texts.mutated_sql,
    rep.sqlsim_pair_hash,
    texts.original_sqlsim,
    texts.mutated_sqlsim,
    rep.original_length,
    rep.mutated_length,
    rep.original_sqlsim_length,
    rep.mutated_sqlsim_length,
    rep.original_fingerprint,
    rep.original_sqlsim_fingerprint,
    rep.stability,
    0 as occurrences,
    rep.conforms,
    rep.sqlsim_conforms
from ranked as rep
inner join texts
    on  texts.dataset_name = rep.synthetic_dataset_name
    and texts.pair_hash = rep.pair_hash
where rep.representative_rank = 1
