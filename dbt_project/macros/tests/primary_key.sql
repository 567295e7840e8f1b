{#-
    Local generic test: the column (or `combination_of_columns`) is a primary key, i.e. never NULL and
    never repeated, checked in one query. Used on the intermediate views, where each test re-runs the
    view's query and unique + not_null would run it twice.

        columns:
          - name: pair_id
            data_tests: [primary_key]
-#}
{% test primary_key(model, column_name=none, combination_of_columns=none) %}
{%- set columns = combination_of_columns if combination_of_columns else [column_name] -%}
select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
    {%- for column in columns %} or {{ column }} is null{% endfor %}
{% endtest %}
