-- depends_on: {{ customer_build_inputs() }}
-- Per customer and calendar month: the marketing touches they got (and converted) and their valid
-- orders (and net revenue). The outcomes segment_uplift and segment_kpi_history judge campaigns by.
{{ config(materialized=customer_materialization(), incremental_strategy='changed_customers',
          changed_in=['orders', 'marketing_touches'], on_schema_change='sync_all_columns',
          post_hook="{{ record_customer_build() }}") }}
{%- set changed_only = rebuilds_changed_customers() %}
with touches as (
    select customer_id, {{ dbt.date_trunc('month', 'sent_at') }} as period_start,
           count(*) as touches, sum(case when converted then 1 else 0 end) as conversions
    from {{ for_customers(ref('stg_marketing__touches'), changed_only) }} as touches
    group by 1, 2
),

orders as (
    select customer_id, {{ dbt.date_trunc('month', 'order_ts') }} as period_start,
           count(*) as orders, sum(paid_amount - refunded_amount) as net_revenue
    from {{ for_customers(ref('int_orders__valid'), changed_only) }} as valid
    group by 1, 2
)

select
    coalesce(t.customer_id, o.customer_id) as customer_id,
    coalesce(t.period_start, o.period_start) as period_start,
    coalesce(t.touches, 0) as touches,
    coalesce(t.conversions, 0) as conversions,
    coalesce(o.orders, 0) as orders,
    coalesce(o.net_revenue, 0) as net_revenue
from touches as t
full outer join orders as o on t.customer_id = o.customer_id and t.period_start = o.period_start
