-- depends_on: {{ customer_build_inputs() }}
-- Frequency and monetary value per customer, and the last order date recency is counted from (in customer_features,
-- so that a moved as-of date leaves these rows as they are), from non-cancelled orders.
{{ config(materialized=customer_materialization(), incremental_strategy='changed_customers',
          changed_in=['orders'], on_schema_change='sync_all_columns',
          post_hook="{{ record_customer_build() }}") }}
{%- set changed_only = rebuilds_changed_customers() %}
with orders as (
    select * from {{ for_customers(ref('int_orders__valid'), changed_only) }} as valid where status <> 'cancelled'
)

select
    customer_id,
    count(*) as order_count,
    min(order_date) as first_order_date,
    max(order_date) as last_order_date,
    sum(paid_amount) as gross_revenue,
    sum(refunded_amount) as refunded_revenue,
    sum(paid_amount) - sum(refunded_amount) as net_revenue,
    sum(paid_amount) / count(*) as avg_order_value,
    cast(sum(units) as double) / count(*) as items_per_order,
    {{ safe_ratio("sum(case when status = 'returned' then 1 else 0 end)", 'count(*)') }} as return_rate,
    {{ safe_ratio('sum(case when is_discounted then 1 else 0 end)', 'count(*)') }} as discounted_order_share,
    coalesce(avg(case when is_discounted then discount_pct end), 0) as avg_discount_pct
from orders
group by customer_id
