-- depends_on: {{ customer_build_inputs() }}
-- Trusted orders of real customers inside the history window, with their net
-- sale and refund amounts. Everything downstream counts from here. Rebuilt per changed customer
-- (macros/customer_builds.sql: a changed line's order is a changed customer's).
{{ config(materialized=customer_materialization(), incremental_strategy='changed_customers',
          changed_in=['orders'], on_schema_change='sync_all_columns',
          post_hook="{{ record_customer_build() }}") }}
{%- set changed_only = rebuilds_changed_customers() %}
with orders as (
    select * from {{ for_customers(ref('int_orders__checked'), changed_only) }} as checked
),

lines as (
    select
        order_id,
        sum(case when line_type = 'sale' then line_amount else 0 end) as sale_amount,
        -sum(case when line_type = 'refund' then line_amount else 0 end) as refund_amount,
        sum(case when line_type = 'sale' then quantity else 0 end) as units
    from {{ ref('int_order_items__checked') }}
    where dq_issue is null
    {%- if changed_only %} and order_id in (select order_id from orders){% endif %}
    group by order_id
)

select
    o.order_id,
    o.customer_id,
    o.order_ts,
    o.order_date,
    o.channel,
    o.device,
    o.status,
    o.discount_pct,
    o.discount_pct > 0 as is_discounted,
    -- what the customer paid (list price less the order discount), and what came back
    coalesce(l.sale_amount, 0) * (1 - o.discount_pct) as paid_amount,
    coalesce(l.refund_amount, 0) * (1 - o.discount_pct) as refunded_amount,
    coalesce(l.units, 0) as units
from orders as o
left join lines as l on o.order_id = l.order_id
where o.dq_issue is null
  and not o.is_test_account
  and o.order_date > {{ history_start(as_of_date()) }}
