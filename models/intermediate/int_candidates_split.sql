-- Selection, step 5 of 5 (split): int_candidates_topped_up with the split and the position of every
-- selected candidate, real or synthetic (NULL for the others). One row per dataset × pair, as before.
--
--   * split_draw: md5(seed:original fingerprint of the content), its first 52 bits as a fraction of 2^52,
--     in [0, 1); against the dataset's cumulative cuts it gives train, validation or test, so no original
--     query lands in two splits;
--   * position: the order within the dataset's split, by md5(seed:position:pair_id).

with drawn as (

    select
        *,
        case when is_selected then
            -- the first 52 bits of md5(seed:fingerprint), as a fraction of 2^52
            cast(('0x' || left(md5(cast(seed as varchar) || ':' || content_original_fingerprint), 13)) as bigint)
                / 4503599627370496.0
        end as split_draw
    from {{ ref('int_candidates_topped_up') }}

),

split as (

    select
        *,
        case
            when not is_selected then null
            when split_draw < train_cut then 'train'
            when split_draw < validation_cut then 'validation'
            else 'test'
        end as split
    from drawn

)

select
    *,
    case when is_selected then
        row_number() over (
            partition by dataset_name, split
            order by md5(cast(seed as varchar) || ':position:' || pair_id), pair_id
        )
    end as position
from split
