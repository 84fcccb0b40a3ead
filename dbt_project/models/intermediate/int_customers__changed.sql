-- depends_on: {{ customer_raw_sources() }}
-- The customers whose raw rows changed since the per-customer models were last built, and those whose rows a later
-- as-of date changes (macros/customer_builds.sql): those models rebuild only these customers, each model those
-- changed in the raw tables it reads. One row per customer and raw table changed in (changed_in), and a marker row
-- (customer_id null) naming the dbt invocation that found them, so a build that did not find them does not trust
-- them. Empty before the first record, and on engines that rebuild the models in full.
{%- set since = customers_changed_since() %}
{%- set built_as_of = customers_built_as_of() %}
with changed as (
    {%- if since is none %}
    select customer_id, 'customers' as changed_in from {{ source('raw', 'customers') }} where false
    {%- else %}
    {{ changed_customers(since) }}
    {%- endif %}
    {%- if built_as_of is not none %}
    union
    {{ customers_reached_by_as_of(built_as_of) }}
    {%- endif %}
)

select customer_id, changed_in, cast(null as {{ dbt.type_string() }}) as invocation_id from changed
union all
select null, null, '{{ invocation_id }}'
