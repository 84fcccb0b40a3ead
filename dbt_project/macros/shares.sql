{#- One share column per (value, slug) pair of values_in_data(): the share of rows whose `column`
    is that value (or, for the (none, 'other') pair, none of the named values). -#}
{% macro share_columns(pairs, column, suffix, prefix='') -%}
    {%- set named = [] %}
    {%- for value, slug in pairs if value is not none %}{% do named.append(text_literal(value)) %}{% endfor %}
    {%- for value, slug in pairs %}
    {%- set match = column ~ " not in (" ~ named | join(", ") ~ ")" if value is none
                    else column ~ " = " ~ text_literal(value) %}
    {{ safe_ratio("sum(case when " ~ match ~ " then 1 else 0 end)", 'count(*)') }} as {{ prefix }}{{ slug }}{{ suffix }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}
