{#- Fails on rows where the column is outside [min_value, max_value] (nulls pass; not_null covers them). -#}
{% test in_range(model, column_name, min_value=none, max_value=none, tolerance=0) %}
select {{ column_name }}
from {{ model }}
where
    {%- if min_value is not none %} {{ column_name }} < {{ min_value }} - {{ tolerance }}{% endif %}
    {%- if min_value is not none and max_value is not none %} or{% endif %}
    {%- if max_value is not none %} {{ column_name }} > {{ max_value }} + {{ tolerance }}{% endif %}
{% endtest %}
