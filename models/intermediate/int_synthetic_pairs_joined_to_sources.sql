-- One row per synthetic pair (raw.synthetic_pairs, derived by the engine for top-ups), with the
-- provenance of the real report whose original it reuses (matched on source_pair_hash and
-- source_relative_path; the first source root wins if several roots hold that path), and the original
-- fingerprints the verdict step gave that source report (raw form) and its sqlsim copy (sqlsim form).
-- They stand in for the synthetic pair's own when the verdict step has not judged it, so that it still
-- splits with the real pairs that share its original (found by keys, not by text, to stay cheap).

with synthetic as (

    select * from {{ ref('stg_pinoloft__synthetic_pairs') }}

),

sources as (

    select
        reports.pair_hash,
        reports.relative_path,
        arg_min(
            struct_pack(
                source_root := reports.source_root,
                run := reports.run,
                dbms := reports.dbms,
                task := reports.task,
                task_id := reports.task_id,
                bug_id := reports.bug_id,
                sql_id := reports.sql_id,
                mutation_name := reports.mutation_name
            ),
            reports.source_root
        ) as source
    from {{ ref('stg_pinolo__bug_reports') }} as reports
    where reports.folder = 'bugs'
      and reports.pair_hash in (select source_pair_hash from synthetic)
    group by reports.pair_hash, reports.relative_path

),

source_sqlsim as (

    select source_root, run, dbms, task, bug_id, sql_id, mutation_name, pair_hash as sqlsim_pair_hash
    from {{ ref('stg_pinolo__bug_reports') }}
    where folder = 'sqlsim' and not coalesce(is_vanished, false)

),

verdicts as (

    select pair_hash, original_fingerprint from {{ ref('stg_pinoloft__mutation_verdicts') }}

),

joined as (

    select
        synthetic.*,
        sources.source,
        source_sqlsim.sqlsim_pair_hash as source_sqlsim_pair_hash
    from synthetic
    left join sources
        on  sources.pair_hash = synthetic.source_pair_hash
        and sources.relative_path = synthetic.source_relative_path
    left join source_sqlsim
        on  source_sqlsim.source_root = sources.source.source_root
        and source_sqlsim.run = sources.source.run
        and source_sqlsim.dbms = sources.source.dbms
        and source_sqlsim.task = sources.source.task
        and source_sqlsim.bug_id = sources.source.bug_id
        and source_sqlsim.sql_id = sources.source.sql_id
        and source_sqlsim.mutation_name = sources.source.mutation_name

)

select
    joined.pair_hash,
    joined.dataset_name,
    joined.dbms,
    joined.strategy,
    joined.is_upper,
    joined.original_sql,
    joined.mutated_sql,
    joined.original_sqlsim,
    joined.mutated_sqlsim,
    case
        when joined.original_sqlsim is not null and joined.mutated_sqlsim is not null
            then sha256(joined.strategy || chr(31) || joined.original_sqlsim || chr(31) || joined.mutated_sqlsim)
    end as sqlsim_pair_hash,
    joined.source_pair_hash,
    joined.source_relative_path,
    joined.source.source_root as source_root,
    joined.source.run as run,
    joined.source.task as task,
    joined.source.task_id as task_id,
    joined.source.bug_id as bug_id,
    joined.source.sql_id as sql_id,
    source_verdict.original_fingerprint as known_original_fingerprint,
    case
        when joined.original_sqlsim is not null then source_sqlsim_verdict.original_fingerprint
    end as known_original_sqlsim_fingerprint,
    joined.created_at
from joined
left join verdicts as source_verdict
    on source_verdict.pair_hash = joined.source_pair_hash
left join verdicts as source_sqlsim_verdict
    on source_sqlsim_verdict.pair_hash = joined.source_sqlsim_pair_hash
