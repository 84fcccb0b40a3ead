-- depends_on: {{ customer_build_inputs() }}
-- How a customer buys over time, from order dates alone (so a bare transaction log has it too):
-- the mean gap between orders, how regular those gaps are, and whether spend is rising or
-- falling (the later half of the history window against the earlier half).
{{ config(materialized=customer_materialization(), incremental_strategy='changed_customers',
          changed_in=['orders'], on_schema_change='sync_all_columns',
          post_hook="{{ record_customer_build() }}") }}
{%- set changed_only = rebuilds_changed_customers() %}
with orders as (
    select customer_id, order_date, paid_amount - refunded_amount as net_amount
    from {{ for_customers(ref('int_orders__valid'), changed_only) }} as valid
    where status <> 'cancelled'
),

gaps as (
    select
        customer_id,
        {{ dbt.datediff('lag(order_date) over (partition by customer_id order by order_date)', 'order_date', 'day') }}
            as gap_days
    from orders
),

rhythm as (
    select
        customer_id,
        avg(gap_days) as mean_gap_days,
        stddev_samp(gap_days) as sd_gap_days
    from gaps
    where gap_days is not null
    group by customer_id
),

trend as (
    select
        customer_id,
        sum(case when order_date > {{ spend_trend_split(as_of_date()) }} then net_amount else 0 end) as later_spend,
        sum(case when order_date <= {{ spend_trend_split(as_of_date()) }} then net_amount else 0 end) as earlier_spend
    from orders
    group by customer_id
)

select
    t.customer_id,
    cast(r.mean_gap_days as double) as mean_days_between_orders,
    -- coefficient of variation of the gaps: 0 = clockwork, 1+ = erratic; needs 3 orders
    cast(r.sd_gap_days as double) / nullif(r.mean_gap_days, 0) as gap_variation,
    {{ safe_ratio('t.later_spend - t.earlier_spend', 'abs(t.later_spend) + abs(t.earlier_spend)') }} as spend_trend
from trend as t
left join rhythm as r on t.customer_id = r.customer_id
