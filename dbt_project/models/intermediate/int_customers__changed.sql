-- depends_on: {{ customer_raw_sources() }}
-- The customers whose raw rows changed since the per-customer models were last built (macros/customer_builds.sql):
-- those models rebuild only these customers. One row per customer, and a marker row (customer_id null) naming the
-- dbt invocation that found them, so a build that did not find them does not trust them. Empty before the first
-- record, and on engines that rebuild the models in full.
{%- set since = customers_changed_since() %}
with changed as (
    {%- if since is none %}
    select customer_id from {{ source('raw', 'customers') }} where false
    {%- else %}
    {{ changed_customers(since) }}
    {%- endif %}
)

select customer_id, cast(null as {{ dbt.type_string() }}) as invocation_id from changed
union all
select null, '{{ invocation_id }}'
