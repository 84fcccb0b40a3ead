-- A view, not a table: it reads segments.* as they are now, so it always shows the run the segmentation
-- last published, with no dbt step in between that a crash could leave behind.
{{ config(materialized='view') }}
-- Segments ranked by priority within each level, with each KPI beside its target, and ranked by
-- evidence: measured conversion uplift (latest month, where significant) first, expected value after.
with latest_uplift as (
    select level, segment_id, conversion_uplift, conversion_uplift_significant,
           row_number() over (partition by level, segment_id order by period_start desc) as recency
    from {{ ref('segment_uplift') }}
),

kpis as (
select
    p.level,
    p.segment_id,
    p.parent_segment_id,
    p.segment_name,
    p.customers,
    p.share_of_customers,
    p.share_of_revenue,
    p.avg_customer_value,
    p.priority_score,
    rank() over (partition by p.level order by p.priority_score desc) as priority_rank,
    p.budget_share,
    p.budget,
    p.recommended_channel,
    p.conversion_rate, p.conversion_rate_target,
    p.open_rate, p.open_rate_target,
    p.click_rate, p.click_rate_target,
    p.avg_order_value, p.avg_order_value_target,
    p.repeat_rate, p.repeat_rate_target,
    p.return_rate, p.return_rate_target,
    p.is_stable,
    p.is_niche,
    p.run_id,
    r.finished_at as segmented_at
from {{ source('segments', 'segment_profiles') }} as p
inner join {{ source('segments', 'segmentation_runs') }} as r on p.run_id = r.run_id
)

select
    k.*,
    u.conversion_uplift as measured_conversion_uplift,
    coalesce(u.conversion_uplift_significant, false) as has_measured_uplift,
    case when u.conversion_uplift_significant then 'measured uplift' else 'expected value' end as ranked_by,
    row_number() over (
        partition by k.level
        order by case when u.conversion_uplift_significant then 0 else 1 end,
                 case when u.conversion_uplift_significant then u.conversion_uplift end desc,
                 k.priority_score desc, k.segment_id
    ) as evidence_rank
from kpis as k
left join latest_uplift as u on u.level = k.level and u.segment_id = k.segment_id and u.recency = 1
