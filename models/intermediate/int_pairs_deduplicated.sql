-- One row per distinct pair (pair_id = the normalised pair fingerprint: whitespace, keyword case,
-- introducers and literal values ignored), across tasks, runs, DBMSs and source roots.
--
-- Exact-text duplicates (same strategy, original and mutated: same pair_hash) collapse first, then
-- every text that differs only in what the fingerprint ignores. The representative report, whose
-- texts and provenance the pair keeps, is chosen deterministically:
--   1. a real report (PINOLO's or from outside, `ingest pairs`) before a synthetic pair (a synthetic pair
--      that duplicates a real one vanishes);
--   2. maystable with a sqlsim simplification first;
--   3. the shortest (original + mutated length);
--   4. the smallest relative_path, then source_root, then pair_hash (then, for a synthetic pair that
--      two datasets derived alike, the first dataset's name: its texts are the same).
-- A dataset's own choice among its synthetic pairs is int_synthetic_pairs_deduplicated's.
-- The ranking runs without the SQL texts, so the window does not carry them (the costly part); the
-- representatives' texts are fetched at the end, by key, from staging.

with pairs as (

    select
        * exclude (original_sql, mutated_sql, original_sqlsim, mutated_sqlsim),
        (stability = 'maystable' and original_sqlsim_length is not null) as is_preferred
    from {{ ref('int_pairs_joined_to_verdicts') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by pair_id
            order by
                is_synthetic,
                is_preferred desc,
                original_length + mutated_length,
                relative_path,
                source_root,
                pair_hash,
                synthetic_dataset_name
        ) as representative_rank,
        count(*) filter (where not is_synthetic) over by_pair as occurrences,
        count(distinct pair_hash) filter (where not is_synthetic) over by_pair as distinct_texts,
        count(*) filter (where stability = 'unstable') over by_pair as unstable_reports,
        count(distinct run) filter (where not is_synthetic) over by_pair as runs,
        list(distinct dbms) filter (where not is_synthetic) over by_pair as dbms_seen,
        list(distinct synthetic_dataset_name) filter (where is_synthetic) over by_pair as synthetic_datasets
    from pairs
    window by_pair as (partition by pair_id)

),

representatives as (

    select * from ranked where representative_rank = 1

),

bug_texts as (

    select source_root, relative_path, original_sql, mutated_sql
    from {{ ref('stg_pinolo__bug_reports') }}
    where folder = 'bugs'

),

sqlsim_texts as (

    select source_root, relative_path, original_sql as original_sqlsim, mutated_sql as mutated_sqlsim
    from {{ ref('stg_pinolo__bug_reports') }}
    where folder = 'sqlsim'

),

external_texts as (

    select source_root, relative_path, original_sql, mutated_sql
    from {{ ref('stg_pinoloft__external_pairs') }}

),

synthetic_texts as (

    select dataset_name, pair_hash, original_sql, mutated_sql, original_sqlsim, mutated_sqlsim
    from {{ ref('stg_pinoloft__synthetic_pairs') }}

)

select
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
    rep.report_time,
    rep.pair_hash,
    case
        when rep.is_synthetic then synthetic_texts.original_sql
        when rep.source <> 'pinolo' then external_texts.original_sql
        else bug_texts.original_sql
    end as original_sql,
    case
        when rep.is_synthetic then synthetic_texts.mutated_sql
        when rep.source <> 'pinolo' then external_texts.mutated_sql
        else bug_texts.mutated_sql
    end as mutated_sql,
    rep.sqlsim_pair_hash,
    case when rep.is_synthetic then synthetic_texts.original_sqlsim else sqlsim_texts.original_sqlsim end
        as original_sqlsim,
    case when rep.is_synthetic then synthetic_texts.mutated_sqlsim else sqlsim_texts.mutated_sqlsim end
        as mutated_sqlsim,
    rep.original_length,
    rep.mutated_length,
    rep.original_sqlsim_length,
    rep.mutated_sqlsim_length,
    rep.original_fingerprint,
    rep.original_sqlsim_fingerprint,
    rep.stability,
    rep.occurrences,
    rep.distinct_texts,
    rep.occurrences - rep.distinct_texts as exact_duplicates,
    rep.unstable_reports,
    rep.runs,
    list_sort(rep.dbms_seen) as dbms_seen,
    rep.has_verdict,
    rep.conforms,
    rep.verdict_reason,
    rep.verdict_is_upper,
    rep.sqlsim_conforms,
    rep.sqlsim_verdict_reason,
    rep.is_synthetic,
    case when rep.is_synthetic then list_sort(rep.synthetic_datasets) end as synthetic_datasets,
    rep.original_row_count,
    rep.mutated_row_count,
    rep.original_duration_ms,
    rep.mutated_duration_ms,
    rep.source
from representatives as rep
left join bug_texts
    on  not rep.is_synthetic
    and rep.source = 'pinolo'
    and bug_texts.source_root = rep.source_root
    and bug_texts.relative_path = rep.relative_path
left join sqlsim_texts
    on  sqlsim_texts.source_root = rep.source_root
    and sqlsim_texts.relative_path = rep.sqlsim_relative_path
left join external_texts
    on  not rep.is_synthetic
    and rep.source <> 'pinolo'
    and external_texts.source_root = rep.source_root
    and external_texts.relative_path = rep.relative_path
left join synthetic_texts
    on  rep.is_synthetic
    and synthetic_texts.dataset_name = rep.synthetic_dataset_name
    and synthetic_texts.pair_hash = rep.pair_hash
