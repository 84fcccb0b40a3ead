-- Test and learn: per segment (both levels) and calendar month, the customers a campaign reached
-- against the persistent holdout. Treated = not in the holdout and touched that month; holdout =
-- in the holdout and not touched; a holdout customer who was touched anyway is counted as
-- contaminated and left out of both. Outcomes are the month's valid orders: conversion (ordered
-- at least once) and net revenue per customer, each with its uplift and a +/- z * SE interval.
with months as (
    select distinct {{ dbt.date_trunc('month', 'sent_at') }} as period_start
    from {{ ref('stg_marketing__touches') }}
    where cast(sent_at as date) <= {{ as_of_date() }}
      and cast(sent_at as date) > {{ dbt.dateadd('month', -1 * var('uplift_months'), as_of_date()) }}
),

customers as (
    select s.customer_id, s.segment_id as micro_segment_id, s.macro_segment_id, h.is_holdout
    from {{ source('segments', 'customer_scores') }} as s
    inner join {{ ref('customer_holdouts') }} as h on s.customer_id = h.customer_id
),

arms as (
    select
        c.*,
        m.period_start,
        case
            when c.is_holdout and coalesce(a.touches, 0) = 0 then 'holdout'
            when c.is_holdout then 'contaminated'
            when a.touches > 0 then 'treated'
            else 'not_reached'
        end as arm,
        case when a.orders > 0 then 1 else 0 end as converted,
        coalesce(a.net_revenue, 0) as net_revenue
    from customers as c
    cross join months as m
    left join {{ ref('int_customer__monthly_campaigns') }} as a
        on a.customer_id = c.customer_id and a.period_start = m.period_start
),

by_segment as (
    {% for level in ['macro', 'micro'] %}
    select
        '{{ level }}' as level,
        {{ level }}_segment_id as segment_id,
        period_start,
        sum(case when arm = 'treated' then 1 else 0 end) as treated_customers,
        sum(case when arm = 'holdout' then 1 else 0 end) as holdout_customers,
        sum(case when arm = 'contaminated' then 1 else 0 end) as contaminated_customers,
        sum(case when arm = 'not_reached' then 1 else 0 end) as not_reached_customers,
        avg(case when arm = 'treated' then converted end) as treated_conversion,
        avg(case when arm = 'holdout' then converted end) as holdout_conversion,
        avg(case when arm = 'treated' then net_revenue end) as treated_revenue_per_customer,
        avg(case when arm = 'holdout' then net_revenue end) as holdout_revenue_per_customer,
        var_samp(case when arm = 'treated' then net_revenue end) as treated_revenue_variance,
        var_samp(case when arm = 'holdout' then net_revenue end) as holdout_revenue_variance
    from arms
    group by 1, 2, 3
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

estimates as (
    select
        *,
        treated_conversion - holdout_conversion as conversion_uplift,
        sqrt(treated_conversion * (1 - treated_conversion) / nullif(treated_customers, 0)
             + holdout_conversion * (1 - holdout_conversion) / nullif(holdout_customers, 0)) as conversion_uplift_se,
        treated_revenue_per_customer - holdout_revenue_per_customer as revenue_uplift_per_customer,
        sqrt(treated_revenue_variance / nullif(treated_customers, 0)
             + holdout_revenue_variance / nullif(holdout_customers, 0)) as revenue_uplift_se,
        least(treated_customers, holdout_customers) < {{ var('uplift_min_customers') }} as too_small_to_say
    from by_segment
)

select
    level,
    segment_id,
    period_start,
    treated_customers,
    holdout_customers,
    contaminated_customers,
    not_reached_customers,
    treated_conversion,
    holdout_conversion,
    conversion_uplift,
    conversion_uplift - {{ var('uplift_z') }} * conversion_uplift_se as conversion_uplift_low,
    conversion_uplift + {{ var('uplift_z') }} * conversion_uplift_se as conversion_uplift_high,
    treated_revenue_per_customer,
    holdout_revenue_per_customer,
    revenue_uplift_per_customer,
    revenue_uplift_per_customer - {{ var('uplift_z') }} * revenue_uplift_se as revenue_uplift_low,
    revenue_uplift_per_customer + {{ var('uplift_z') }} * revenue_uplift_se as revenue_uplift_high,
    too_small_to_say,
    not too_small_to_say
        and (conversion_uplift - {{ var('uplift_z') }} * conversion_uplift_se > 0
             or conversion_uplift + {{ var('uplift_z') }} * conversion_uplift_se < 0) as conversion_uplift_significant
from estimates
