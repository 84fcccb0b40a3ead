-- KPI actuals against their targets, per segment and calendar month, beside the measured uplift:
-- the touch conversion rate and average order value of the segment's reached (treated) customers
-- that month, next to the targets the current profile set. A KPI whose inputs are missing stays NULL.
with reached as (
    select s.segment_id, s.macro_segment_id, a.period_start, a.touches, a.conversions, a.orders, a.net_revenue
    from {{ source('segments', 'customer_scores') }} as s
    inner join {{ ref('customer_holdouts') }} as h on s.customer_id = h.customer_id and not h.is_holdout
    inner join {{ ref('int_customer__monthly_campaigns') }} as a on a.customer_id = s.customer_id and a.touches > 0
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
