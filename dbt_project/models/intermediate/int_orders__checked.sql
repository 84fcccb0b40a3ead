-- depends_on: {{ customer_build_inputs() }}
-- Every staged order with the checks that need the customer table: an order of an unknown
-- customer is quarantined (orphan_customer, before its own issues), and test accounts' orders
-- are marked so that features leave them out. Rebuilt per changed customer (macros/customer_builds.sql).
{{ config(materialized=customer_materialization(), incremental_strategy='changed_customers',
          changed_in=['orders'], on_schema_change='sync_all_columns',
          post_hook="{{ record_customer_build() }}") }}
{%- set changed_only = rebuilds_changed_customers() %}
with orders as (
    select * from {{ for_customers(ref('stg_shop__orders'), changed_only) }} as staged
),

customers as (
    select customer_id, is_test_account from {{ for_customers(ref('stg_shop__customers'), changed_only) }} as staged
)

select
    o.order_id,
    o.customer_id,
    o.order_ts,
    o.order_date,
    o.channel,
    o.device,
    o.discount_pct,
    o.status,
    coalesce(c.is_test_account, false) as is_test_account,
    case when c.customer_id is null then 'orphan_customer' else o.dq_issue end as dq_issue
from orders as o
left join customers as c on o.customer_id = c.customer_id
