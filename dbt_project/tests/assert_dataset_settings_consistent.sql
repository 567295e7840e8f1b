{{ config(severity='warn') }}
-- A dataset's rows should agree on seed and split ratios (the selection uses the smallest of each, so
-- that splits agree across its strategies).
select dataset_name
from {{ ref('stg_pinoloft__dataset_configs') }}
group by dataset_name
having count(distinct seed) > 1
    or count(distinct train_ratio) > 1
    or count(distinct validation_ratio) > 1
    or count(distinct test_ratio) > 1
