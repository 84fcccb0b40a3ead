-- depends_on: {{ ref('int_customers__changed') }}, {{ source('raw', 'orders') }}, {{ source('raw', 'order_items') }}
-- The orders whose lines may have changed since the per-customer models were last built (macros/customer_builds.sql):
-- every order of a changed customer, and the order of every raw row of a line with a new row. The checked order
-- lines rebuild only these orders' lines. One row per order, and a marker row (order_id null) naming the dbt
-- invocation that found them. Empty before the first record, and on engines that rebuild the models in full.
{%- set since = customers_changed_since() %}
with changed as (
    {%- if since is none %}
    select order_id from {{ source('raw', 'orders') }} where false
    {%- else %}
    {{ changed_orders(since) }}
    {%- endif %}
)

select order_id, cast(null as {{ dbt.type_string() }}) as invocation_id from changed
union all
select null, '{{ invocation_id }}'
