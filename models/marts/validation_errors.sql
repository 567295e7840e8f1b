-- Why pairs do not run, per target × form × strategy × error class (PK target, form, strategy,
-- error_class), from marts.validation_results. Each failing side of a pair counts under its own class
-- (the smallest over its failing repeats; the side's status when the log has no class, e.g. `error`):
--   pairs               distinct pairs that failed with the class on either side;
--   original_failures   pairs whose original failed with it; mutated_failures likewise, so a pair whose
--                       two sides fail with the same class counts once in pairs and once in each;
--   example_pair_id     the smallest such pair_id; example_error the server's message of that pair
--                       (its original's when both sides failed with the class), example_side which side.

with results as (

    select * from {{ ref('validation_results') }}
    where failing_side is not null

),

failures as (

    select
        target, form, strategy, pair_id,
        'original' as side,
        0 as side_rank,
        coalesce(original_error_class, original_status, 'unknown') as error_class,
        original_error as error
    from results
    where failing_side in ('original', 'both')

    union all

    select
        target, form, strategy, pair_id,
        'mutated' as side,
        1 as side_rank,
        coalesce(mutated_error_class, mutated_status, 'unknown') as error_class,
        mutated_error as error
    from results
    where failing_side in ('mutated', 'both')

),

grouped as (

    select
        target,
        form,
        strategy,
        error_class,
        count(distinct pair_id) as pairs,
        count(*) filter (where side = 'original') as original_failures,
        count(*) filter (where side = 'mutated') as mutated_failures,
        min({'pair_id': pair_id, 'side_rank': side_rank, 'side': side, 'error': error}) as example
    from failures
    group by target, form, strategy, error_class

)

select
    target,
    form,
    strategy,
    error_class,
    pairs,
    original_failures,
    mutated_failures,
    example.pair_id as example_pair_id,
    example.side as example_side,
    example.error as example_error
from grouped
