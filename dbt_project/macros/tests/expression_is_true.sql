{#-
    Local generic test: every row satisfies `expression` (a SQL boolean over the model's columns). Rows
    where it is false or NULL fail.

        data_tests:
          - expression_is_true:
              arguments:
                expression: "occurrences >= 1"
-#}
{% test expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}
