-- Selection, step 1 of 5 (→ int_candidates_judged → int_candidates_interleaved → int_candidates_topped_up →
-- int_candidates_split, read by marts.dataset_candidates): every pair a dataset could draw on, one row per
-- dataset × pair of its strategies and DBMSs, with its config row, its seed and split cuts, and the content
-- it would use.
--
--   * pairs: the real deduplicated pairs of marts.pairs, and for a top_up dataset its own synthetic
--     derivations (int_synthetic_pairs_deduplicated: two datasets may derive the same pair and neither
--     changes the other's selection). marts.pairs, not the views it is built from: it is materialized
--     once, where the views would repeat the deduplication in each of these steps and each of their tests;
--   * content: the sqlsim texts when form = 'sqlsim' and the pair has them, else the raw texts
--     (content_form says which), with their lengths, verdict and original fingerprint;
--   * seed and split ratios are per dataset: the smallest over its rows (a test warns when its rows
--     disagree); the ratios become the cumulative cuts train_cut and validation_cut in [0, 1].

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
    from {{ ref('stg_pinoloft__dataset_configs') }}

),

dataset_settings as (

    select
        dataset_name,
        coalesce(min(seed), 0) as seed,
        coalesce(min(train_ratio), 0) as train_ratio,
        coalesce(min(validation_ratio), 0) as validation_ratio,
        coalesce(min(test_ratio), 0) as test_ratio
    from {{ ref('stg_pinoloft__dataset_configs') }}
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

)

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
