{#- Fails on values that still carry upper case or surrounding whitespace. -#}
{% test lowercase_trimmed(model, column_name) %}
select {{ column_name }} from {{ model }}
where {{ column_name }} <> lower(trim({{ column_name }}))
{% endtest %}
