-- KPI actuals against their targets, per segment and calendar month, beside the measured uplift:
-- the touch conversion rate and average order value of the segment's reached (treated) customers
-- that month, next to the targets the current profile set. A KPI whose inputs are missing stays NULL.
with touch_month as (
    select customer_id, {{ dbt.date_trunc('month', 'sent_at') }} as period_start,
           count(*) as touches, sum(case when converted then 1 else 0 end) as conversions
    from {{ ref('stg_marketing__touches') }}
    group by 1, 2
),

order_month as (
    select customer_id, {{ dbt.date_trunc('month', 'order_ts') }} as period_start,
           count(*) as orders, sum(paid_amount - refunded_amount) as net_revenue
    from {{ ref('int_orders__valid') }}
    group by 1, 2
),

reached as (
    select s.segment_id, s.macro_segment_id, t.period_start, t.touches, t.conversions,
           coalesce(o.orders, 0) as orders, coalesce(o.net_revenue, 0) as net_revenue
    from {{ source('segments', 'customer_scores') }} as s
    inner join {{ ref('customer_holdouts') }} as h on s.customer_id = h.customer_id and not h.is_holdout
    inner join touch_month as t on t.customer_id = s.customer_id
    left join order_month as o on o.customer_id = s.customer_id and o.period_start = t.period_start
),

actuals as (
    {% for level in ['macro', 'micro'] %}
    select '{{ level }}' as level,
           {{ 'macro_segment_id' if level == 'macro' else 'segment_id' }} as segment_id,
           period_start,
           sum(conversions) * 1.0 / nullif(sum(touches), 0) as conversion_rate_actual,
           sum(net_revenue) / nullif(sum(orders), 0) as avg_order_value_actual
    from reached
    group by 1, 2, 3
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select
    u.level,
    u.segment_id,
    u.period_start,
    a.conversion_rate_actual,
    p.conversion_rate_target,
    a.conversion_rate_actual >= p.conversion_rate_target as conversion_rate_target_met,
    a.avg_order_value_actual,
    p.avg_order_value_target,
    a.avg_order_value_actual >= p.avg_order_value_target as avg_order_value_target_met,
    u.conversion_uplift,
    u.conversion_uplift_low,
    u.conversion_uplift_high,
    u.conversion_uplift_significant,
    u.revenue_uplift_per_customer,
    u.too_small_to_say
from {{ ref('segment_uplift') }} as u
left join actuals as a on a.level = u.level and a.segment_id = u.segment_id and a.period_start = u.period_start
left join {{ source('segments', 'segment_profiles') }} as p on p.segment_id = u.segment_id
