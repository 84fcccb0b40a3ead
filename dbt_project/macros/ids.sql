{#- A customer id as the user's files spell it: the text id the loader keyed (raw._id_keys), else
    the integer itself, as text. -#}
{% macro source_customer_id(customer_id) -%}
    coalesce(
        (select max(k.source_value) from {{ source('load_audit', '_id_keys') }} as k
         where k.column_name = 'customer_id' and k.id = {{ customer_id }}),
        cast({{ customer_id }} as {{ dbt.type_string() }}))
{%- endmacro %}
