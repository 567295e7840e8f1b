-- Every pair a dataset could draw on, one row per dataset × pair of its strategies and DBMSs, with why
-- it was left out (exclusion_reason) or where it went (is_selected, selection_rank, split, position).
-- Narrow on purpose (no SQL text): dataset_examples joins the texts of the selected rows, and
-- dataset_coverage counts these rows.
--
-- Selection, per dataset × strategy (a row of raw.dataset_configs):
--   * content: the sqlsim texts when form = 'sqlsim' and the pair has them, else the raw texts
--     (content_form says which);
--   * eligible: conforming content when require_conforming (the verdict of the form used), user content
--     (the original in that form) at most max_length characters, and validated executable on the target
--     when require_executable;
--   * order within a DBMS: validated executable first (then not validated, flaky, not executable), then
--     the shortest (user + assistant length), ties broken by md5(seed:pair_id);
--   * stratified by DBMS: the DBMSs take turns (round robin over that order), so the quota is split as
--     evenly as availability allows; NULL quota = every eligible pair;
--   * top-up (top_up, finite quota): synthetic pairs derived for this dataset fill only the shortfall
--     left by real pairs, again evening out the DBMSs (counting the real pairs already taken).
-- Split: md5(seed:original fingerprint of the content) mapped into [0,1) against the cumulative
-- train/validation/test ratios, so no original query lands in two splits. Position: the order within a
-- split, by md5(seed:position:pair_id). Seed and ratios are per dataset (the smallest over its rows; a
-- test warns when its rows disagree).

with configs as (

    select
        dataset_name,
        strategy,
        dbms as dbms_list,
        quota,
        max_length,
        coalesce(form, 'sqlsim') as form,
        coalesce(top_up, false) as top_up,
        coalesce(require_conforming, true) as require_conforming,
        coalesce(require_executable, false) as require_executable,
        target
    from {{ ref('stg_pinolo__dataset_configs') }}

),

dataset_settings as (

    select
        dataset_name,
        coalesce(min(seed), 0) as seed,
        coalesce(min(train_ratio), 0) as train_ratio,
        coalesce(min(validation_ratio), 0) as validation_ratio,
        coalesce(min(test_ratio), 0) as test_ratio
    from {{ ref('stg_pinolo__dataset_configs') }}
    group by dataset_name

),

split_cuts as (

    select
        dataset_name,
        seed,
        case
            when train_ratio + validation_ratio + test_ratio > 0
                then train_ratio / (train_ratio + validation_ratio + test_ratio)
            else 0.8
        end as train_cut,
        case
            when train_ratio + validation_ratio + test_ratio > 0
                then (train_ratio + validation_ratio) / (train_ratio + validation_ratio + test_ratio)
            else 0.9
        end as validation_cut
    from dataset_settings

),

{%- set pair_columns = ['pair_id', 'pair_hash', 'strategy', 'dbms', 'conforms', 'sqlsim_conforms',
                         'original_length', 'mutated_length', 'original_sqlsim_length', 'mutated_sqlsim_length',
                         'original_fingerprint', 'original_sqlsim_fingerprint'] %}

pairs as (

    -- real pairs from marts.pairs; synthetic ones per dataset, each dataset's own derivation (two
    -- datasets may derive the same pair: neither changes the other's selection)
    select
        cast(null as varchar) as synthetic_dataset_name,
        false as is_synthetic,
        {{ pair_columns | join(',\n        ') }}
    from {{ ref('pairs') }}
    where not is_synthetic

    union all

    select
        dataset_name as synthetic_dataset_name,
        true as is_synthetic,
        {{ pair_columns | join(',\n        ') }}
    from {{ ref('int_synthetic_pairs_deduplicated') }}

),

scoped as (

    select
        configs.*,
        split_cuts.seed,
        split_cuts.train_cut,
        split_cuts.validation_cut,
        pairs.* exclude (strategy, synthetic_dataset_name),
        case
            when configs.form = 'sqlsim'
                and pairs.original_sqlsim_length is not null
                and pairs.mutated_sqlsim_length is not null
                then 'sqlsim'
            else 'raw'
        end as content_form
    from configs
    inner join split_cuts
        on split_cuts.dataset_name = configs.dataset_name
    inner join pairs
        on pairs.strategy = configs.strategy
    where (configs.dbms_list is null or list_contains(configs.dbms_list, pairs.dbms))
      and (
          not pairs.is_synthetic
          or (configs.top_up and pairs.synthetic_dataset_name = configs.dataset_name)
      )

),

contents as (

    select
        *,
        case content_form when 'sqlsim' then original_sqlsim_length else original_length end as user_length,
        case content_form when 'sqlsim' then mutated_sqlsim_length else mutated_length end as assistant_length,
        case content_form when 'sqlsim' then sqlsim_conforms else conforms end as content_conforms,
        case content_form
            when 'sqlsim' then original_sqlsim_fingerprint
            else original_fingerprint
        end as content_original_fingerprint
    from scoped

),

validation_by_target as (

    -- the latest validation run per pair, form and target, as marts.validation_results shows it
    select pair_hash, form, target, validation_status
    from {{ ref('validation_results') }}

),

validation_any_target as (

    select
        pair_hash,
        form,
        case max(case validation_status when 'not executable' then 3 when 'flaky' then 2 else 1 end)
            when 3 then 'not executable'
            when 2 then 'flaky'
            else 'executable'
        end as validation_status
    from validation_by_target
    group by pair_hash, form

),

validated as (

    select
        contents.*,
        coalesce(
            case
                when contents.target is null then validation_any_target.validation_status
                else validation_by_target.validation_status
            end,
            'not validated'
        ) as validation_status
    from contents
    left join validation_by_target
        on  validation_by_target.pair_hash = contents.pair_hash
        and validation_by_target.form = contents.content_form
        and validation_by_target.target = contents.target
    left join validation_any_target
        on  validation_any_target.pair_hash = contents.pair_hash
        and validation_any_target.form = contents.content_form

),

judged as (

    select
        *,
        case
            when require_conforming and content_conforms is null then 'not checked'
            when require_conforming and not content_conforms then 'not conforming'
            when max_length is not null and user_length > max_length then 'too long'
            when require_executable and validation_status <> 'executable' then validation_status
        end as exclusion_reason,
        case validation_status
            when 'executable' then 0
            when 'not validated' then 1
            when 'flaky' then 2
            else 3
        end as validation_rank,
        md5(cast(seed as varchar) || ':' || pair_id) as tiebreak,
        md5(cast(seed as varchar) || ':' || strategy || ':' || dbms) as dbms_tiebreak
    from validated

),

real_ranked as (

    select
        *,
        row_number() over (
            partition by dataset_name, strategy, dbms
            order by validation_rank, user_length + assistant_length, tiebreak, pair_id
        ) as dbms_rank
    from judged
    where exclusion_reason is null and not is_synthetic

),

real_interleaved as (

    select
        *,
        row_number() over (
            partition by dataset_name, strategy
            order by dbms_rank, dbms_tiebreak, dbms
        ) as selection_rank
    from real_ranked

),

real_selected as (

    select *, (quota is null or selection_rank <= quota) as is_selected
    from real_interleaved

),

real_counts as (

    select dataset_name, strategy, dbms, count(*) filter (where is_selected) as n_selected
    from real_selected
    group by dataset_name, strategy, dbms

),

real_totals as (

    select dataset_name, strategy, sum(n_selected) as n_selected
    from real_counts
    group by dataset_name, strategy

),

synthetic_ranked as (

    select
        judged.*,
        coalesce(real_counts.n_selected, 0) + row_number() over (
            partition by judged.dataset_name, judged.strategy, judged.dbms
            order by judged.validation_rank, judged.user_length + judged.assistant_length,
                judged.tiebreak, judged.pair_id
        ) as dbms_rank
    from judged
    left join real_counts
        on  real_counts.dataset_name = judged.dataset_name
        and real_counts.strategy = judged.strategy
        and real_counts.dbms = judged.dbms
    where judged.exclusion_reason is null and judged.is_synthetic

),

synthetic_interleaved as (

    select
        synthetic_ranked.*,
        coalesce(real_totals.n_selected, 0) + row_number() over (
            partition by synthetic_ranked.dataset_name, synthetic_ranked.strategy
            order by synthetic_ranked.dbms_rank, synthetic_ranked.dbms_tiebreak, synthetic_ranked.dbms
        ) as selection_rank
    from synthetic_ranked
    left join real_totals
        on  real_totals.dataset_name = synthetic_ranked.dataset_name
        and real_totals.strategy = synthetic_ranked.strategy

),

synthetic_selected as (

    select *, (quota is not null and selection_rank <= quota) as is_selected
    from synthetic_interleaved

),

excluded as (

    select
        *,
        cast(null as bigint) as dbms_rank,
        cast(null as bigint) as selection_rank,
        false as is_selected
    from judged
    where exclusion_reason is not null

),

all_candidates as (

    select * from real_selected
    union all by name
    select * from synthetic_selected
    union all by name
    select * from excluded

),

split as (

    select
        *,
        case
            when split_draw < train_cut then 'train'
            when split_draw < validation_cut then 'validation'
            else 'test'
        end as split
    from (
        select
            dataset_name,
            pair_id,
            seed,
            train_cut,
            validation_cut,
            -- the first 52 bits of md5(seed:fingerprint), as a fraction of 2^52
            cast(('0x' || left(md5(cast(seed as varchar) || ':' || content_original_fingerprint), 13)) as bigint)
                / 4503599627370496.0 as split_draw
        from all_candidates
        where is_selected
    )

),

positioned as (

    select
        dataset_name,
        pair_id,
        split_draw,
        split,
        row_number() over (
            partition by dataset_name, split
            order by md5(cast(seed as varchar) || ':position:' || pair_id), pair_id
        ) as position
    from split

)

select
    all_candidates.dataset_name,
    all_candidates.strategy,
    all_candidates.dbms,
    all_candidates.pair_id,
    all_candidates.pair_hash,
    all_candidates.is_synthetic,
    all_candidates.content_form,
    all_candidates.user_length,
    all_candidates.assistant_length,
    all_candidates.content_conforms,
    all_candidates.content_original_fingerprint,
    all_candidates.validation_status,
    all_candidates.exclusion_reason,
    all_candidates.exclusion_reason is null as is_eligible,
    all_candidates.dbms_rank,
    all_candidates.selection_rank,
    all_candidates.is_selected,
    positioned.split_draw,
    positioned.split,
    positioned.position,
    all_candidates.quota,
    all_candidates.seed
from all_candidates
left join positioned
    on  positioned.dataset_name = all_candidates.dataset_name
    and positioned.pair_id = all_candidates.pair_id
