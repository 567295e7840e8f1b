{#-
    Local generic test (dbt packages cannot be downloaded here): no two rows share the same values in
    `combination_of_columns`. NULLs compare equal, as in dbt_utils.unique_combination_of_columns.

        data_tests:
          - unique_combination_of_columns:
              arguments:
                combination_of_columns: [source_root, relative_path]
-#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
select {{ combination_of_columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}
