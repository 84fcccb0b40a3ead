{#- A value from the data (a category, a channel) as a SQL string literal. Engines escape differently:
    DuckDB doubles a quote (men''s); Spark reads '' as two adjacent literals and a backslash as an
    escape, so it needs men\'s and \\ (dbt's escape_single_quotes leaves backslashes alone). -#}
{% macro text_literal(value) -%}
    {{ return(adapter.dispatch('text_literal', 'microseg')(value)) }}
{%- endmacro %}

{% macro default__text_literal(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}

{% macro spark__text_literal(value) -%}
    '{{ value | string | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}
