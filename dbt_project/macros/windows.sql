{#- The date windows per-customer features are computed over, each a function of the as-of date. One home for
    each, so that the models and the customers an as-of date's move reaches (macros/customer_builds.sql) agree. -#}

{#- Orders count from the day after this date (the history window: var('history_days') up to the as-of date). -#}
{% macro history_start(as_of) -%}
    {{ dbt.dateadd('day', -var('history_days'), as_of) }}
{%- endmacro %}

{#- The spend trend compares the orders after this date (the later half of the history window) with the rest. -#}
{% macro spend_trend_split(as_of) -%}
    {{ dbt.dateadd('day', -((var('history_days') / 2) | int), as_of) }}
{%- endmacro %}

{#- Every date a per-customer intermediate model compares an order date with: the as-of date itself (a later order is
    quarantined as future_order_ts), the history window's start and the spend trend's split. When the as-of date
    moves from a to b, exactly the orders dated past one of these between a and b change their customer's rows. -#}
{% macro as_of_boundaries(as_of) -%}
    {{ return([as_of, history_start(as_of), spend_trend_split(as_of)]) }}
{%- endmacro %}
