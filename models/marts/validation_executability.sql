-- Executability per target × form × DBMS × strategy (PK target, form, dbms, strategy), over the pairs
-- validated there (marts.validation_results; dbms is the pair's representative DBMS, synthetic pairs
-- included). pairs = executable_pairs + flaky_pairs + not_executable_pairs (by validation_status);
-- executable_share = executable_pairs / pairs; the oracle counts cover every pair that ran in all its
-- repeats (executable and flaky: holds + violated + incomparable + mixed = executable + flaky).

with results as (

    select * from {{ ref('validation_results') }}

)

select
    target,
    form,
    dbms,
    strategy,
    count(*) as pairs,
    count(*) filter (where validation_status = 'executable') as executable_pairs,
    count(*) filter (where validation_status = 'not executable') as not_executable_pairs,
    count(*) filter (where validation_status = 'flaky') as flaky_pairs,
    cast(count(*) filter (where validation_status = 'executable') as double) / count(*) as executable_share,
    count(*) filter (where oracle_status = 'holds') as holds_pairs,
    count(*) filter (where oracle_status = 'violated') as violated_pairs,
    count(*) filter (where oracle_status = 'incomparable') as incomparable_pairs,
    count(*) filter (where oracle_status = 'mixed') as mixed_pairs,
    count(*) filter (where is_synthetic) as synthetic_pairs
from results
group by target, form, dbms, strategy
